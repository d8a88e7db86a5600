// The platform's ceiling, kept as a reference: a bare node:http round-robin proxy with
// one undici Pool per upstream and Pool.dispatch() with a small legacy handler object
// (case 3b of /work/shared/reference/proxy-ceilings.md). No health, metrics, or
// strategies: whatever our balancer costs beyond this is the price of those features.
// Usage: node ceiling-proxy.mjs <port> <upstream-url>...
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, ...origins] = process.argv.slice(2);
const pools = origins.map((o) => new Pool(o, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 }));
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);
let next = 0;

class Handler {
  constructor(res) {
    this.res = res;
  }
  onConnect() {}
  onHeaders(status, raw) {
    const headers = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1');
      if (!HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1].toString('latin1'));
    }
    this.res.writeHead(status, headers);
    return true;
  }
  onData(chunk) {
    return this.res.write(chunk);
  }
  onComplete() {
    this.res.end();
  }
  onError() {
    if (!this.res.headersSent) this.res.writeHead(502);
    this.res.end();
  }
}

createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2)
    if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  const pool = pools[next];
  next = (next + 1) % pools.length;
  pool.dispatch({ path: req.url, method: req.method, headers, body: null }, new Handler(res));
}).listen(Number(port), '127.0.0.1');
