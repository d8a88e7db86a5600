/**
 * @module
 * `limiter-redis`: what the shared Redis store costs.
 * - decisions/s of each algorithm through the Redis store (its exact call: one EVALSHA,
 *   server time) against a local `redis-server`, one call at a time (a latency bound:
 *   one round trip each) and with 64 in flight (pipelined on the one connection);
 * - the limiter's reject path (fixed window, 1 per hour: every request a 429) with the
 *   Redis store against the same limiter with the memory store, interleaved by wrk.
 *
 * Skipped with a message when redis-server (or wrk, for the second part) is missing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ALGORITHM_NAMES, createAlgorithm } from '../../services/limiter/algorithms/index.js';
import { RedisStore } from '../../services/limiter/stores/redis.js';
import { hasRedisServer, startRedis } from '../../tests/helpers/redis.js';
import { alternate, median, pairedRatio, summarize, type Target, table } from '../lib/compare.js';
import { freePort, hasTool, spawnRole, treeCpuSeconds, waitForHttp } from '../lib/processes.js';
import type { BenchCase, BenchContext } from '../lib/types.js';

const PARAMS = { limit: 100, windowMs: 1000, burst: 100 };
const IN_FLIGHT = 64;

/** Decisions per second: `n` calls, `inFlight` at a time, keys cycling over `keys`. */
async function decisionsPerSecond(
  store: RedisStore,
  algorithm: ReturnType<typeof createAlgorithm>,
  keys: string[],
  n: number,
  inFlight: number,
): Promise<number> {
  let next = 0;
  let allowed = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        if ((await store.consume(keys[i % keys.length] as string, algorithm, 1)).allowed) allowed++;
      }
    }),
  );
  const ns = Number(process.hrtime.bigint() - started);
  if (allowed < 0) throw new Error('unreachable');
  return Math.round((n / ns) * 1e9);
}

async function startLimiter(ctx: BenchContext, env: Record<string, string>) {
  const file = join(ctx.tmpDir, 'policies-reject.yaml');
  writeFileSync(file, 'default: { algorithm: fixed-window, limit: 1, window: 1h }\n');
  const port = await freePort();
  const limiter = spawnRole('limiter', ['--port', String(port)], {
    LOG_LEVEL: 'warn',
    UPSTREAM: 'http://127.0.0.1:9',
    RATE_LIMIT_POLICIES: file,
    ...env,
  });
  ctx.defer(() => limiter.stop().then(() => {}));
  await waitForHttp(`${limiter.url}/healthz`, 20_000, limiter);
  const url = `${limiter.url}/`;
  await fetch(url).then((r) => r.arrayBuffer());
  const sample = await fetch(url);
  await sample.arrayBuffer();
  if (sample.status !== 429) throw new Error(`expected a 429 from the limiter, got ${sample.status}`);
  return { limiter, url };
}

const limiterRedis: BenchCase = {
  name: 'limiter-redis',
  description:
    'the Redis store: decisions/s per algorithm (1 at a time, 64 in flight); the reject path with the Redis store vs the memory store',
  async run(ctx) {
    if (!hasRedisServer()) {
      ctx.log('SKIP limiter-redis: redis-server is not installed (apt-get install redis-server)');
      return {
        result: { skipped: 'redis-server not installed' },
        summary: 'skipped: redis-server not installed',
      };
    }
    const redis = await startRedis();
    ctx.defer(() => redis.stop());
    // The refusal cache off: every decision here is one EVALSHA round trip.
    const store = new RedisStore({ url: redis.url, timeoutMs: 2000, prefix: 'bench:', rejectCacheSize: 0 });
    ctx.defer(() => store.close());
    if (!(await store.ready(10_000))) throw new Error('could not connect to the bench redis-server');

    const sequentialN = ctx.settings.quick ? 2_000 : 10_000;
    const parallelN = ctx.settings.quick ? 20_000 : 100_000;
    const keys = Array.from({ length: 1000 }, (_, i) => `a:10.0.${i >> 8}.${i & 255}`);
    // Warm-up: every script loaded and JIT-compiled once.
    for (const name of ALGORITHM_NAMES)
      await decisionsPerSecond(store, createAlgorithm(name, PARAMS), keys, 2_000, IN_FLIGHT);

    const rows: { algorithm: string; oneAtATime: number; inFlight64: number }[] = [];
    const redisPid = redis.pid();
    const redisCpu0 = redisPid ? treeCpuSeconds(redisPid) : 0;
    let decisions = 0;
    for (const name of ALGORITHM_NAMES) {
      const one: number[] = [];
      const many: number[] = [];
      for (let round = 0; round < ctx.settings.rounds; round++) {
        const algorithm = createAlgorithm(name, PARAMS);
        one.push(await decisionsPerSecond(store, algorithm, keys, sequentialN, 1));
        many.push(await decisionsPerSecond(store, algorithm, keys, parallelN, IN_FLIGHT));
        decisions += sequentialN + parallelN;
        await sleep(10);
      }
      const row = { algorithm: name, oneAtATime: median(one), inFlight64: median(many) };
      rows.push(row);
      ctx.log(
        `${name.padEnd(24)} 1 at a time ${String(row.oneAtATime).padStart(7)}/s   ${IN_FLIGHT} in flight ${String(row.inFlight64).padStart(7)}/s`,
      );
    }
    const redisUsPerDecision = redisPid
      ? Math.round(((treeCpuSeconds(redisPid) - redisCpu0) * 1e6 * 10) / decisions) / 10
      : Number.NaN;
    await store.clear();

    let reject: object | undefined;
    const lines: string[] = [];
    if (hasTool('wrk')) {
      const viaRedis = await startLimiter(ctx, {
        RATE_LIMIT_STORE: 'redis',
        REDIS_URL: redis.url,
        RATE_LIMIT_STORE_TIMEOUT: '1s',
      });
      const viaMemory = await startLimiter(ctx, { RATE_LIMIT_STORE: 'memory' });
      const targets: Target[] = [
        { name: 'redis-store', url: viaRedis.url, pid: viaRedis.limiter.proc.pid as number },
        { name: 'memory-store', url: viaMemory.url, pid: viaMemory.limiter.proc.pid as number },
      ];
      const runs = await alternate(ctx, targets);
      const summaries = summarize(
        runs,
        targets.map((t) => t.name),
      );
      const ratios = {
        'redis/memory req/s': pairedRatio(runs, 'redis-store', 'memory-store', (r) => r.requestsPerSecond),
        'redis/memory limiter CPU per request': pairedRatio(
          runs,
          'redis-store',
          'memory-store',
          (r) => r.cpuUsPerRequest,
        ),
        'redis/memory p99': pairedRatio(runs, 'redis-store', 'memory-store', (r) => r.p99Ms),
      };
      reject = { summaries, ratios, runs };
      lines.push(
        '',
        'reject path (every request a 429), wrk against one limiter each:',
        table(summaries),
        ...Object.entries(ratios).map(([k, v]) => `  ${k.padEnd(40)} ${v.toFixed(3)}`),
      );
    } else {
      ctx.log('SKIP reject path: wrk is not installed');
      lines.push('reject path: skipped (wrk not installed)');
    }

    const summary = [
      `algorithm                 1 at a time    ${IN_FLIGHT} in flight   (decisions/s through the Redis store, median of rounds)`,
      ...rows.map(
        (r) =>
          `${r.algorithm.padEnd(24)} ${String(r.oneAtATime).padStart(9)}/s ${String(r.inFlight64).padStart(12)}/s`,
      ),
      `redis-server CPU per decision: ${redisUsPerDecision} µs`,
      ...lines,
    ].join('\n');
    return {
      result: { params: PARAMS, sequentialN, parallelN, rows, redisUsPerDecision, reject },
      summary,
    };
  },
};

export default limiterRedis;
