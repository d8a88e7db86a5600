/**
 * @module
 * `limiter-reject`: the reject path, one client far over its limit, through
 * - our limiter (fixed window of 1 per hour: every request after the first is a 429
 *   with `Retry-After`, `RateLimit-Policy`, `RateLimit` and the problem+json body),
 * - a bare `node:http` server answering the very same 429 (headers and body captured
 *   from the limiter): the platform's ceiling, kept as a reference,
 * - nginx `limit_req` (1r/m, rejections not logged) with the same headers and body,
 * alternating in one run, first under unpaced wrk (50 connections: each read carries
 * several requests), then in the paced regime of an attack (`paced.lua`, 256 connections,
 * `POST /data` with a small JSON body at a steady rate: one request per wake-up), where
 * the figure is CPU µs per rejected request; and the allowed path's cost: wrk → limiter
 * → balancer → three nodes, CPU per request of the limiter process against the
 * balancer's in the same run.
 *
 * Targets (issues 4 and 12): reject path ≥ 0.85× the ceiling's req/s; paced rejections
 * ≤ 1.2× the ceiling's CPU per request; the allowed path's limiter hop ≤ 1.10× the
 * balancer hop's CPU per request.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { alternate, median, pairedRatio, summarize, type Target, table } from '../lib/compare.js';
import { paced } from '../lib/paced.js';
import {
  freePort,
  hasTool,
  spawnRole,
  startExternal,
  treeCpuSeconds,
  waitForHttp,
} from '../lib/processes.js';
import { nginxHttpPreamble, startNginx } from '../lib/stack.js';
import type { BenchCase, BenchContext } from '../lib/types.js';
import { wrk } from '../lib/wrk.js';

/** Response headers that are the server's own business, not the 429's. */
const TRANSPORT = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

async function startLimiter(ctx: BenchContext, policies: string, upstream: string) {
  const file = join(ctx.tmpDir, `policies-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, policies);
  const port = await freePort();
  const limiter = spawnRole('limiter', ['--port', String(port)], {
    LOG_LEVEL: 'warn',
    UPSTREAM: upstream,
    RATE_LIMIT_POLICIES: file,
  });
  ctx.defer(() => limiter.stop().then(() => {}));
  await waitForHttp(`${limiter.url}/healthz`, 20_000, limiter);
  return limiter;
}

function nginxConfig(dir: string, port: number, answer: { headers: string[]; body: string }): string {
  const add: string[] = [];
  for (let i = 0; i < answer.headers.length; i += 2) {
    const name = answer.headers[i] as string;
    if (['content-type', 'content-length'].includes(name.toLowerCase())) continue;
    add.push(`      add_header ${name} '${(answer.headers[i + 1] as string).replace(/'/g, "\\'")}' always;`);
  }
  const type = answer.headers[answer.headers.findIndex((h) => h.toLowerCase() === 'content-type') + 1];
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx-rl.pid;
error_log ${dir}/nginx-rl-error.log warn;
events { worker_connections 4096; }
http {
${nginxHttpPreamble(dir)}
  limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
  limit_req_status 429;
  limit_req_log_level info;
  server {
    listen 127.0.0.1:${port};
    root ${dir};
    location / {
      limit_req zone=one;
      error_page 429 = @rl;
      try_files /allowed.txt =404;
    }
    location @rl {
      default_type ${type};
${add.join('\n')}
      return 429 '${answer.body.replace(/'/g, "\\'")}';
    }
  }
}
`;
}

/** The paced attack's rate and connections (proxy-ceilings.md, "Paced, many-connection traffic"). */
const PACED_RATE = 10_000;
const PACED_CONNECTIONS = 256;
/** The bad actor's request of `loadtests/scenarios.json`; no key, so the address is the (refused) client. */
const PACED_REQUEST = {
  rate: PACED_RATE,
  connections: PACED_CONNECTIONS,
  method: 'POST',
  path: '/data',
  body: JSON.stringify({ key: 'bad-1', value: 'flood' }),
};

/** Every target in the paced regime, rotated per round: CPU µs per rejected request. */
async function pacedRejections(ctx: BenchContext, targets: Target[]) {
  const { rounds, durationS, warmupS } = ctx.settings;
  for (const target of targets) await paced(target.url, PACED_REQUEST, warmupS);
  const runs: { round: number; target: string; perSecond: number; cpuUsPerRequest: number; p95Ms: number }[] =
    [];
  for (let round = 1; round <= rounds; round++) {
    for (const target of targets.map((_, i) => targets[(i + round - 1) % targets.length] as Target)) {
      await sleep(500);
      const cpu0 = treeCpuSeconds(target.pid);
      const r = await paced(target.url, PACED_REQUEST, durationS);
      const run = {
        round,
        target: target.name,
        perSecond: Math.round(r.requestsPerSecond),
        cpuUsPerRequest: Math.round(((treeCpuSeconds(target.pid) - cpu0) * 1e7) / r.requests) / 10,
        p95Ms: r.p95Ms,
        ok2xx: r.ok,
        socketErrors: r.socketErrors,
      };
      runs.push(run);
      ctx.log(
        `paced round ${round}/${rounds} ${target.name.padEnd(8)} ${run.perSecond}/s  ${run.cpuUsPerRequest} µs CPU/req  p95 ${r.p95Ms.toFixed(2)} ms  2xx ${r.ok}  socket errors ${r.socketErrors}`,
      );
    }
  }
  const perRound = (name: string) => new Map(runs.filter((r) => r.target === name).map((r) => [r.round, r]));
  const limiter = perRound('limiter');
  const ceiling = perRound('ceiling');
  const ratios = [...limiter].flatMap(([round, l]) => {
    const c = ceiling.get(round);
    return c ? [l.cpuUsPerRequest / c.cpuUsPerRequest] : [];
  });
  const byTarget = targets.map((t) => {
    const mine = runs.filter((r) => r.target === t.name);
    return {
      target: t.name,
      perSecond: median(mine.map((r) => r.perSecond)),
      cpuUsPerRequest: median(mine.map((r) => r.cpuUsPerRequest)),
      p95Ms: median(mine.map((r) => r.p95Ms)),
    };
  });
  return {
    rate: PACED_RATE,
    connections: PACED_CONNECTIONS,
    byTarget,
    runs,
    cpuRatio: Math.round(median(ratios) * 1000) / 1000,
  };
}

/** wrk → limiter → balancer → nodes, CPU per request of the limiter and of the balancer. */
async function allowedPath(ctx: BenchContext) {
  const nodes: string[] = [];
  for (const id of [1, 2, 3]) {
    const port = await freePort();
    const node = spawnRole('node', ['--port', String(port), '--id', String(id)], { LOG_LEVEL: 'warn' });
    ctx.defer(() => node.stop().then(() => {}));
    await waitForHttp(`${node.url}/health`, 20_000, node);
    nodes.push(node.url);
  }
  const lbPort = await freePort();
  const balancer = spawnRole('balancer', ['--port', String(lbPort)], {
    LOG_LEVEL: 'warn',
    UPSTREAMS: nodes.join(','),
    LB_STRATEGY: 'round-robin',
  });
  ctx.defer(() => balancer.stop().then(() => {}));
  await waitForHttp(`${balancer.url}/healthz`, 20_000, balancer);
  // A quota no benchmark reaches: every request is decided, counted and admitted.
  const limiter = await startLimiter(
    ctx,
    'default: { algorithm: token-bucket, limit: 1000000, window: 1s }\n',
    balancer.url,
  );
  const url = `${limiter.url}/health`;
  const { rounds, durationS, warmupS, connections } = ctx.settings;
  await wrk(url, { seconds: warmupS, connections });
  const runs: {
    round: number;
    requestsPerSecond: number;
    limiterUs: number;
    balancerUs: number;
    ratio: number;
  }[] = [];
  for (let round = 1; round <= rounds; round++) {
    await sleep(500);
    const l0 = treeCpuSeconds(limiter.proc.pid as number);
    const b0 = treeCpuSeconds(balancer.proc.pid as number);
    const r = await wrk(url, { seconds: durationS, connections });
    const limiterUs = ((treeCpuSeconds(limiter.proc.pid as number) - l0) * 1e6) / r.requests;
    const balancerUs = ((treeCpuSeconds(balancer.proc.pid as number) - b0) * 1e6) / r.requests;
    const run = {
      round,
      requestsPerSecond: Math.round(r.requestsPerSecond),
      limiterUs: Math.round(limiterUs * 10) / 10,
      balancerUs: Math.round(balancerUs * 10) / 10,
      ratio: Math.round((limiterUs / balancerUs) * 1000) / 1000,
      errors: r.errors,
    };
    runs.push(run);
    ctx.log(
      `allowed path round ${round}/${rounds}: ${run.requestsPerSecond} req/s, limiter ${run.limiterUs} µs/req, balancer ${run.balancerUs} µs/req, ratio ${run.ratio}, errors ${r.errors}`,
    );
  }
  return { runs, ratio: median(runs.map((r) => r.ratio)) };
}

const limiterReject: BenchCase = {
  name: 'limiter-reject',
  description:
    'reject path: our limiter vs a bare node:http 429 with the same headers and nginx limit_req; plus the allowed path hop cost vs the balancer',
  async run(ctx) {
    if (!hasTool('wrk')) {
      ctx.log('SKIP limiter-reject: wrk is not installed (apt-get install wrk); nothing to measure with');
      return { result: { skipped: 'wrk not installed' }, summary: 'skipped: wrk not installed' };
    }
    const skipped: string[] = [];
    // Nothing is ever admitted after the first request, so the upstream is never used.
    const limiter = await startLimiter(
      ctx,
      'default: { algorithm: fixed-window, limit: 1, window: 1h }\n',
      'http://127.0.0.1:9',
    );
    const url = `${limiter.url}/`;
    await fetch(url).then((r) => r.arrayBuffer());
    const sample = await fetch(url);
    if (sample.status !== 429) throw new Error(`expected the limiter to answer 429, got ${sample.status}`);
    const headers: string[] = [];
    sample.headers.forEach((value, name) => {
      if (!TRANSPORT.has(name)) headers.push(name, value);
    });
    const answer = { headers, body: await sample.text() };
    const answerFile = join(ctx.tmpDir, '429.json');
    writeFileSync(answerFile, JSON.stringify(answer));
    const targets: Target[] = [{ name: 'limiter', url, pid: limiter.proc.pid as number }];

    const ceilingPort = await freePort();
    const ceilingScript = fileURLToPath(new URL('../lib/ceiling-429.mjs', import.meta.url));
    const ceiling = startExternal(process.execPath, [ceilingScript, String(ceilingPort), answerFile]);
    ctx.defer(() => ceiling.stop());
    const ceilingUrl = `http://127.0.0.1:${ceilingPort}/`;
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(ceilingUrl).then(
          (r) => r.status === 429,
          () => false,
        )
      )
        break;
      await sleep(50);
    }
    targets.push({ name: 'ceiling', url: ceilingUrl, pid: ceiling.proc.pid as number });

    if (hasTool('nginx')) {
      const port = await freePort();
      writeFileSync(join(ctx.tmpDir, 'allowed.txt'), 'ok\n');
      const pid = await startNginx(ctx, 'nginx-rl', port, nginxConfig(ctx.tmpDir, port, answer));
      targets.push({ name: 'nginx', url: `http://127.0.0.1:${port}/`, pid });
    } else {
      skipped.push('nginx');
      ctx.log('SKIP nginx comparison: nginx is not installed');
    }

    const runs = await alternate(ctx, targets);
    const names = targets.map((t) => t.name);
    const summaries = summarize(runs, names);
    const ratios: Record<string, number> = {
      'limiter/ceiling req/s': pairedRatio(runs, 'limiter', 'ceiling', (r) => r.requestsPerSecond),
      'limiter/ceiling CPU per request': pairedRatio(runs, 'limiter', 'ceiling', (r) => r.cpuUsPerRequest),
      'limiter/ceiling p99': pairedRatio(runs, 'limiter', 'ceiling', (r) => r.p99Ms),
    };
    if (names.includes('nginx')) {
      ratios['limiter/nginx req/s'] = pairedRatio(runs, 'limiter', 'nginx', (r) => r.requestsPerSecond);
      ratios['ceiling/nginx req/s'] = pairedRatio(runs, 'ceiling', 'nginx', (r) => r.requestsPerSecond);
    }

    const pacedFigures = await pacedRejections(ctx, targets);
    ratios['paced: limiter/ceiling CPU per rejected request'] = pacedFigures.cpuRatio;

    let allowed: Awaited<ReturnType<typeof allowedPath>> | undefined;
    try {
      allowed = await allowedPath(ctx);
      ratios['allowed: limiter/balancer CPU per request'] = allowed.ratio;
    } catch (error) {
      skipped.push('allowed path');
      ctx.log(`SKIP allowed path: ${(error as Error).message}`);
    }

    const target: Record<string, boolean> = {
      'reject req/s ≥ 0.85× ceiling': (ratios['limiter/ceiling req/s'] as number) >= 0.85,
      'paced reject CPU/req ≤ 1.2× ceiling': pacedFigures.cpuRatio <= 1.2,
    };
    if (allowed) target['allowed-path limiter CPU/req ≤ 1.10× balancer'] = allowed.ratio <= 1.1;
    const summary = [
      table(summaries),
      '',
      `paced: ${PACED_RATE}/s POST /data over ${PACED_CONNECTIONS} connections (medians of rounds)`,
      ...pacedFigures.byTarget.map(
        (t) =>
          `  ${t.target.padEnd(11)} ${String(t.perSecond).padStart(6)}/s  ${t.cpuUsPerRequest.toFixed(1).padStart(6)} µs CPU/req  p95 ${t.p95Ms.toFixed(2)} ms`,
      ),
      '',
      'paired same-round ratios (median over rounds):',
      ...Object.entries(ratios).map(([k, v]) => `  ${k.padEnd(50)} ${v.toFixed(3)}`),
      ...Object.entries(target).map(([k, v]) => `  target ${k}: ${v ? 'met' : 'MISSED'}`),
      ...(skipped.length ? [`skipped: ${skipped.join(', ')}`] : []),
    ].join('\n');
    return {
      result: { answer, skipped, summaries, ratios, target, runs, paced: pacedFigures, allowed },
      summary,
    };
  },
};

export default limiterReject;
