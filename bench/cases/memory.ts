/**
 * @module
 * `memory`: the limiter process's resident memory after one million distinct clients.
 * wrk sends every request with a new `X-API-Key` (`bench/lib/unique-keys.lua`) through a
 * real limiter (default settings: memory store, `RATE_LIMIT_MAX_KEYS` 100 000) to a bare
 * `node:http` upstream, in runs of a few seconds until the limiter has decided a million
 * keys. The quota is 10 per hour per key, so no key is back to full (idle) while the run
 * lasts: the store really fills to its cap and from there drops the least recently used.
 * RSS (`/proc/<pid>/status` VmRSS, and the peak VmHWM) and the store's tracked keys are
 * read after every run, so the table shows the growth stopping at the cap.
 *
 * Every first request of a key is admitted, so each one is also proxied: the case runs
 * as fast as the limiter proxies (about 100 µs of CPU per request), roughly two minutes
 * here for a million keys, so only `--case memory` goes that far; a run of every case
 * stops at 300 000 and `--quick` at 30 000 (a smoke run: below the cap).
 *
 * RSS is a sawtooth: V8 lets the old generation grow (evicted keys' state and every
 * request's garbage) until a major GC hands it back, so the table reports the RSS at
 * the end, the peak, and the lowest RSS seen once the store was full (after a GC).
 *
 * `limiter-algorithms` measures the store alone in its own process (1M keys through
 * `SharedStore.consume`); this is the whole service, HTTP parser, proxy and metrics
 * included.
 *
 * `BENCH_LIMITER_NODE_OPTIONS="--max-old-space-size=96"` runs the limiter with those V8
 * flags (and only the limiter), to measure what bounding the heap does;
 * `BENCH_LIMITER_WORKERS=2` runs it with two worker threads over the shared store table.
 *
 * Target (issue 8): limiter RSS after 1M unique keys ≤ 150 MB.
 */

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, hasTool, startExternal, waitForHttp } from '../lib/processes.js';
import { scrapeSum, startLimiter } from '../lib/stack.js';
import type { BenchCase } from '../lib/types.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../lib/unique-keys.lua', import.meta.url));
const LIMIT_BYTES = 150e6;

/** The smallest upstream: 200 `ok` to everything, keep-alive. */
const UPSTREAM = `const http = require('node:http');
http.createServer({ keepAliveTimeout: 65000 }, (req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
  res.end('ok\\n');
}).listen(Number(process.argv[1]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));`;

function memoryOf(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssBytes: kb('VmRSS') * 1024, peakRssBytes: kb('VmHWM') * 1024 };
}

const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;

const memory: BenchCase = {
  name: 'memory',
  description: 'limiter RSS after 1M distinct client keys (memory store, default cap), real process',
  async run(ctx) {
    if (!hasTool('wrk')) {
      ctx.log('SKIP memory: wrk is not installed (apt-get install wrk)');
      return { result: { skipped: 'wrk not installed' }, summary: 'skipped: wrk not installed' };
    }
    // A million keys take two to three minutes here, more than a run of every case can
    // spend: there, 300 000 (three times the cap: the store is full and evicting for two
    // thirds of the run); alone (`--case memory`), the million.
    const targetKeys = ctx.settings.quick ? 30_000 : ctx.settings.oneCase ? 1_000_000 : 300_000;
    const upstreamPort = await freePort();
    const upstream = startExternal(process.execPath, ['-e', UPSTREAM, String(upstreamPort)]);
    ctx.defer(() => upstream.stop());
    await waitForHttp(`http://127.0.0.1:${upstreamPort}/`, 10_000);
    const limiter = await startLimiter(
      ctx,
      // A slow refill (10 per hour): no key is back to full, so none is swept as idle while
      // the run lasts; the store fills to its cap and from there drops the least recently used.
      'default: { algorithm: token-bucket, limit: 10, window: 1h }\n',
      `http://127.0.0.1:${upstreamPort}`,
      {
        ADMIN_TOKEN: 'bench-admin-token',
        // V8 heap flags for the limiter alone, to try a bound: see the README's Performance.
        ...(process.env.BENCH_LIMITER_NODE_OPTIONS
          ? { NODE_OPTIONS: process.env.BENCH_LIMITER_NODE_OPTIONS }
          : {}),
        // Worker threads share one store table (see the README's WORKERS section).
        ...(process.env.BENCH_LIMITER_WORKERS ? { WORKERS: process.env.BENCH_LIMITER_WORKERS } : {}),
      },
    );
    const pid = limiter.proc.pid as number;
    const metricsUrl = `${limiter.url}/metrics`;
    const decided = () => scrapeSum(metricsUrl, 'lab_ratelimit_decisions_total');
    const tracked = () => scrapeSum(metricsUrl, 'lab_ratelimit_tracked_keys');
    const { maxKeys } = (await fetch(`${limiter.url}/admin/config`, {
      headers: { authorization: 'Bearer bench-admin-token' },
    }).then((r) => r.json())) as { maxKeys: number };

    const start = { ...memoryOf(pid), keys: 0, trackedKeys: await tracked(), seconds: 0 };
    const nodeOptions = process.env.BENCH_LIMITER_NODE_OPTIONS ?? '';
    ctx.log(
      `start: RSS ${mb(start.rssBytes)} MB${nodeOptions ? `, limiter NODE_OPTIONS="${nodeOptions}"` : ''}`,
    );
    const samples = [start];
    const began = performance.now();
    const chunkS = ctx.settings.quick ? 3 : 6;
    // Bounded: on a machine too busy to reach the keys in time, stop and say so.
    const maxSeconds = ctx.settings.quick ? 20 : 240;
    for (let chunk = 1; ; chunk++) {
      const keys = await decided();
      const elapsed = (performance.now() - began) / 1000;
      if (keys >= targetKeys || elapsed >= maxSeconds) break;
      const rate = elapsed > 0 ? keys / elapsed : 0;
      // The last run only as long as the remaining keys need (at the rate so far), at least 1 s.
      const seconds =
        rate > 0 ? Math.max(1, Math.min(chunkS, Math.ceil((targetKeys - keys) / rate))) : chunkS;
      await run(
        'wrk',
        [
          '-t1',
          `-c${ctx.settings.connections}`,
          `-d${seconds}s`,
          '-s',
          SCRIPT,
          limiter.url,
          '--',
          `m${chunk}`,
          '/',
        ],
        { timeout: (seconds + 30) * 1000 },
      );
      const sample = {
        ...memoryOf(pid),
        keys: await decided(),
        trackedKeys: await tracked(),
        seconds: Math.round((performance.now() - began) / 100) / 10,
      };
      samples.push(sample);
      ctx.log(
        `${String(sample.keys).padStart(8)} keys decided, ${String(sample.trackedKeys).padStart(6)} tracked, RSS ${mb(sample.rssBytes)} MB (peak ${mb(sample.peakRssBytes)} MB), ${sample.seconds}s`,
      );
    }
    const last = samples[samples.length - 1] as (typeof samples)[number];
    const reached = last.keys >= targetKeys;
    if (!reached) ctx.log(`stopped after ${maxSeconds}s at ${last.keys} keys, short of ${targetKeys}`);
    const full = samples.filter((x) => x.trackedKeys >= maxKeys);
    const floorRssBytes = full.length ? Math.min(...full.map((x) => x.rssBytes)) : Number.NaN;
    const target = {
      [`RSS after ${targetKeys / 1e6}M keys ≤ 150 MB (at the end)`]: reached && last.rssBytes <= LIMIT_BYTES,
      'peak RSS ≤ 150 MB': reached && last.peakRssBytes <= LIMIT_BYTES,
    };
    const summary = [
      ...(nodeOptions ? [`limiter run with NODE_OPTIONS="${nodeOptions}"`] : []),
      `keys decided  tracked   RSS MB   peak RSS MB   (limiter process; store cap ${maxKeys})`,
      ...samples
        .filter((_, i) => i === 0 || i === samples.length - 1 || i % Math.ceil(samples.length / 8) === 0)
        .map(
          (s) =>
            `${String(s.keys).padStart(12)}  ${String(s.trackedKeys).padStart(7)}  ${mb(s.rssBytes).toFixed(1).padStart(7)}  ${mb(s.peakRssBytes).toFixed(1).padStart(12)}`,
        ),
      `RSS at the end ${mb(last.rssBytes)} MB, peak ${mb(last.peakRssBytes)} MB, lowest once full ${mb(floorRssBytes)} MB (start ${mb(start.rssBytes)} MB)`,
      `${last.keys} distinct keys in ${last.seconds}s (${Math.round(last.keys / last.seconds)}/s)${reached ? '' : `: stopped at the ${maxSeconds}s bound, short of ${targetKeys}`}`,
      ...Object.entries(target).map(([k, v]) => `  target ${k}: ${v ? 'met' : 'MISSED'}`),
    ].join('\n');
    return {
      result: {
        targetKeys,
        nodeOptions,
        reached,
        maxSeconds,
        maxKeys,
        rssEndMB: mb(last.rssBytes),
        peakRssMB: mb(last.peakRssBytes),
        lowestRssOnceFullMB: mb(floorRssBytes),
        samples,
        target,
      },
      summary,
    };
  },
};

export default memory;
