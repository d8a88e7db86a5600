// Diagnostic target: a bare node:http round-robin proxy on the shared `forward()` hot path
// (dist/shared/forward.js over dist/shared/pool.js), without Hono, metrics, health or
// strategies. Between the ceiling and the balancer, it tells whether a gap is in forward()
// or around it.
// Usage: node forward-proxy.mjs <port> <upstream-url>...
import { createServer } from 'node:http';
import { forward } from '../../dist/shared/forward.js';
import { createUpstreamPool } from '../../dist/shared/pool.js';

const [port, ...origins] = process.argv.slice(2);
const pools = origins.map((o) => createUpstreamPool(o));
let next = 0;
createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const pool = pools[next];
  next = (next + 1) % pools.length;
  forward(req, res, pool, { timeoutMs: 5_000 });
}).listen(Number(port), '127.0.0.1');
