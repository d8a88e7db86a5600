/**
 * @module
 * `chain`: the whole request path, admitted traffic. wrk → our limiter → our balancer →
 * three nodes (two Node hops, one decision each), against nginx doing both jobs in one
 * hop (`limit_req` + round-robin `proxy_pass` with a keep-alive upstream pool) in front
 * of the same three nodes, alternating in one run.
 *
 * Both limit per client address with a quota no benchmark reaches, so every request is
 * decided, counted and forwarded. Our chain's CPU per request is the limiter's plus the
 * balancer's. No target in the issue: this is the price of two Node processes against
 * one nginx, shown beside the figures that have one (`balancer`, `limiter-reject`).
 */
import { alternate, pairedRatio, summarize, type Target, table } from '../lib/compare.js';
import { freePort, hasTool } from '../lib/processes.js';
import { nginxHttpPreamble, startBalancer, startLimiter, startNginx, startNodes } from '../lib/stack.js';
import type { BenchCase } from '../lib/types.js';

const PATH = '/health';
/** Far above anything wrk reaches here: every request is admitted. */
const QUOTA = 1_000_000;

function nginxConfig(dir: string, port: number, upstreams: string[]): string {
  const servers = upstreams.map((u) => `    server ${new URL(u).host};`).join('\n');
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx-chain.pid;
error_log ${dir}/nginx-chain-error.log warn;
events { worker_connections 4096; }
http {
${nginxHttpPreamble(dir)}
  limit_req_zone $binary_remote_addr zone=perclient:10m rate=${QUOTA}r/s;
  limit_req_status 429;
  upstream nodes {
${servers}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      limit_req zone=perclient burst=${QUOTA} nodelay;
      proxy_pass http://nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}

const chain: BenchCase = {
  name: 'chain',
  description: 'limiter → balancer → 3 nodes (all admitted) vs nginx limit_req + upstream in one hop',
  async run(ctx) {
    if (!hasTool('wrk')) {
      ctx.log('SKIP chain: wrk is not installed (apt-get install wrk)');
      return { result: { skipped: 'wrk not installed' }, summary: 'skipped: wrk not installed' };
    }
    const nodes = await startNodes(ctx);
    const balancer = await startBalancer(ctx, nodes);
    const limiter = await startLimiter(
      ctx,
      `default: { algorithm: token-bucket, limit: ${QUOTA}, window: 1s }\n`,
      balancer.url,
    );
    const targets: Target[] = [
      {
        name: 'chain',
        url: `${limiter.url}${PATH}`,
        pid: limiter.proc.pid as number,
        morePids: [balancer.proc.pid as number],
      },
    ];
    const skipped: string[] = [];
    if (hasTool('nginx')) {
      const port = await freePort();
      const pid = await startNginx(ctx, 'nginx-chain', port, nginxConfig(ctx.tmpDir, port, nodes), PATH);
      targets.push({ name: 'nginx', url: `http://127.0.0.1:${port}${PATH}`, pid });
    } else {
      skipped.push('nginx');
      ctx.log('SKIP nginx comparison: nginx is not installed');
    }

    const runs = await alternate(ctx, targets);
    const names = targets.map((t) => t.name);
    const summaries = summarize(runs, names);
    const ratios: Record<string, number> = {};
    if (names.includes('nginx')) {
      ratios['chain/nginx req/s'] = pairedRatio(runs, 'chain', 'nginx', (r) => r.requestsPerSecond);
      ratios['chain/nginx p99'] = pairedRatio(runs, 'chain', 'nginx', (r) => r.p99Ms);
      ratios['chain/nginx CPU per request'] = pairedRatio(runs, 'chain', 'nginx', (r) => r.cpuUsPerRequest);
    }
    const summary = [
      table(summaries),
      '  (chain CPU = limiter + balancer processes; nodes not counted for either)',
      '',
      'paired same-round ratios (median over rounds):',
      ...Object.entries(ratios).map(([k, v]) => `  ${k.padEnd(34)} ${v.toFixed(3)}`),
      ...(skipped.length ? [`skipped: ${skipped.join(', ')} (not installed)`] : []),
    ].join('\n');
    return { result: { path: PATH, quota: QUOTA, skipped, summaries, ratios, runs }, summary };
  },
};

export default chain;
