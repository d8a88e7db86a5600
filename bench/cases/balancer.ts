/**
 * @module
 * `balancer`: the same wrk load (`GET /health`, round robin over three real nodes)
 * through our balancer, through nginx and haproxy configured as equivalent round-robin
 * proxies (one worker/thread, keep-alive upstream pools), and through the bare
 * `node:http` + undici `Pool.dispatch` ceiling proxy, alternating in one run.
 *
 * Target (issue 3): balancer ≥ 0.85× the ceiling's req/s, p99 within 1.2× the ceiling's.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternate, cleanRounds, pairedRatio, summarize, type Target, table } from '../lib/compare.js';
import { freePort, hasTool, spawnRole, startExternal, waitForHttp } from '../lib/processes.js';
import { nginxHttpPreamble, startNginx } from '../lib/stack.js';
import type { BenchCase, BenchContext } from '../lib/types.js';

const PATH = '/health';

async function startNodes(ctx: BenchContext): Promise<string[]> {
  const urls: string[] = [];
  for (const id of [1, 2, 3]) {
    const port = await freePort();
    const node = spawnRole('node', ['--port', String(port), '--id', String(id)], { LOG_LEVEL: 'warn' });
    ctx.defer(() => node.stop().then(() => {}));
    await waitForHttp(`${node.url}/health`, 20_000, node);
    urls.push(node.url);
  }
  return urls;
}

function nginxConfig(dir: string, port: number, upstreams: string[]): string {
  const servers = upstreams.map((u) => `    server ${new URL(u).host};`).join('\n');
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
${nginxHttpPreamble(dir)}
  upstream nodes {
${servers}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}

function haproxyConfig(port: number, upstreams: string[]): string {
  const servers = upstreams.map((u, i) => `  server node${i + 1} ${new URL(u).host}`).join('\n');
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option forwardfor
  http-reuse always
frontend lb
  bind 127.0.0.1:${port}
  default_backend nodes
backend nodes
  balance roundrobin
${servers}
`;
}

const balancer: BenchCase = {
  name: 'balancer',
  description:
    'our balancer vs nginx, haproxy and the bare node:http + Pool.dispatch ceiling, round robin over 3 nodes',
  async run(ctx) {
    if (!hasTool('wrk')) {
      ctx.log('SKIP balancer: wrk is not installed (apt-get install wrk); nothing to measure with');
      return { result: { skipped: 'wrk not installed' }, summary: 'skipped: wrk not installed' };
    }
    const upstreams = await startNodes(ctx);
    const targets: Target[] = [];
    const skipped: string[] = [];
    const wanted = (name: string) => ctx.settings.only.length === 0 || ctx.settings.only.includes(name);

    const lbPort = await freePort();
    const lb = spawnRole('balancer', ['--port', String(lbPort)], {
      LOG_LEVEL: 'warn',
      UPSTREAMS: upstreams.join(','),
      LB_STRATEGY: 'round-robin',
    });
    ctx.defer(() => lb.stop().then(() => {}));
    await waitForHttp(`${lb.url}/healthz`, 20_000, lb);
    targets.push({ name: 'balancer', url: `${lb.url}${PATH}`, pid: lb.proc.pid as number });

    const ceilingPort = await freePort();
    const ceilingScript = fileURLToPath(new URL('../lib/ceiling-proxy.mjs', import.meta.url));
    const ceiling = startExternal(process.execPath, [ceilingScript, String(ceilingPort), ...upstreams]);
    ctx.defer(() => ceiling.stop());
    await waitForHttp(`http://127.0.0.1:${ceilingPort}${PATH}`, 10_000);
    targets.push({
      name: 'ceiling',
      url: `http://127.0.0.1:${ceilingPort}${PATH}`,
      pid: ceiling.proc.pid as number,
    });

    if (ctx.settings.only.includes('forward')) {
      // Diagnostic, only on request: the shared forward() alone (see bench/lib/forward-proxy.mjs).
      const port = await freePort();
      const script = fileURLToPath(new URL('../lib/forward-proxy.mjs', import.meta.url));
      const proxy = startExternal(process.execPath, [script, String(port), ...upstreams]);
      ctx.defer(() => proxy.stop());
      await waitForHttp(`http://127.0.0.1:${port}${PATH}`, 10_000);
      targets.push({
        name: 'forward',
        url: `http://127.0.0.1:${port}${PATH}`,
        pid: proxy.proc.pid as number,
      });
    }

    if (!wanted('nginx')) {
      // not asked for (--only)
    } else if (hasTool('nginx')) {
      const port = await freePort();
      const pid = await startNginx(ctx, 'nginx', port, nginxConfig(ctx.tmpDir, port, upstreams), PATH);
      targets.push({ name: 'nginx', url: `http://127.0.0.1:${port}${PATH}`, pid });
    } else {
      skipped.push('nginx');
      ctx.log('SKIP nginx comparison: nginx is not installed');
    }

    if (!wanted('haproxy')) {
      // not asked for (--only)
    } else if (hasTool('haproxy')) {
      const port = await freePort();
      const conf = join(ctx.tmpDir, 'haproxy.cfg');
      writeFileSync(conf, haproxyConfig(port, upstreams));
      const haproxy = startExternal('haproxy', ['-f', conf, '-db']);
      ctx.defer(() => haproxy.stop());
      await waitForHttp(`http://127.0.0.1:${port}${PATH}`, 10_000).catch((error) => {
        throw new Error(`haproxy did not start: ${haproxy.output()}\n${error}`);
      });
      targets.push({
        name: 'haproxy',
        url: `http://127.0.0.1:${port}${PATH}`,
        pid: haproxy.proc.pid as number,
      });
    } else {
      skipped.push('haproxy');
      ctx.log('SKIP haproxy comparison: haproxy is not installed');
    }

    const runs = await alternate(ctx, targets);
    const names = targets.map((t) => t.name);
    const summaries = summarize(runs, names);
    const clean = cleanRounds(runs);
    /** Paired ratios over all rounds, and over the rounds without a slow phase. */
    const ratiosOver = (rounds: number[] | undefined) => {
      const r: Record<string, number> = {
        'balancer/ceiling req/s': pairedRatio(
          runs,
          'balancer',
          'ceiling',
          (x) => x.requestsPerSecond,
          rounds,
        ),
        'balancer/ceiling p99': pairedRatio(runs, 'balancer', 'ceiling', (x) => x.p99Ms, rounds),
        'balancer/ceiling CPU per request': pairedRatio(
          runs,
          'balancer',
          'ceiling',
          (x) => x.cpuUsPerRequest,
          rounds,
        ),
      };
      if (names.includes('forward')) {
        r['forward/ceiling req/s'] = pairedRatio(
          runs,
          'forward',
          'ceiling',
          (x) => x.requestsPerSecond,
          rounds,
        );
        r['forward/ceiling CPU per request'] = pairedRatio(
          runs,
          'forward',
          'ceiling',
          (x) => x.cpuUsPerRequest,
          rounds,
        );
        r['balancer/forward CPU per request'] = pairedRatio(
          runs,
          'balancer',
          'forward',
          (x) => x.cpuUsPerRequest,
          rounds,
        );
      }
      for (const other of ['nginx', 'haproxy']) {
        if (!names.includes(other)) continue;
        r[`balancer/${other} req/s`] = pairedRatio(
          runs,
          'balancer',
          other,
          (x) => x.requestsPerSecond,
          rounds,
        );
        r[`ceiling/${other} req/s`] = pairedRatio(runs, 'ceiling', other, (x) => x.requestsPerSecond, rounds);
      }
      return r;
    };
    const ratios = ratiosOver(undefined);
    const cleanRatios = clean.length >= 2 ? ratiosOver(clean) : undefined;
    const judged = cleanRatios ?? ratios;
    const target = {
      'req/s ≥ 0.85× ceiling': (judged['balancer/ceiling req/s'] as number) >= 0.85,
      'p99 ≤ 1.2× ceiling': (judged['balancer/ceiling p99'] as number) <= 1.2,
    };
    const summary = [
      table(summaries),
      '',
      'paired same-round ratios, median (all rounds | rounds without a slow phase):',
      ...Object.entries(ratios).map(
        ([k, v]) =>
          `  ${k.padEnd(34)} ${v.toFixed(3)}   | ${cleanRatios ? (cleanRatios[k] as number).toFixed(3) : 'n/a'}`,
      ),
      `  rounds without a slow phase: ${clean.length} of ${ctx.settings.rounds} [${clean.join(', ')}] (judged on ${cleanRatios ? 'those' : 'all rounds: fewer than 2 clean'})`,
      ...Object.entries(target).map(([k, v]) => `  target ${k}: ${v ? 'met' : 'MISSED'}`),
      ...(skipped.length ? [`skipped: ${skipped.join(', ')} (not installed)`] : []),
    ].join('\n');
    return {
      result: {
        path: PATH,
        upstreams: upstreams.length,
        skipped,
        summaries,
        ratios,
        cleanRounds: clean,
        cleanRatios: cleanRatios ?? null,
        target,
        runs,
      },
      summary,
    };
  },
};

export default balancer;
