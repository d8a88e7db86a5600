/**
 * @module
 * `limiter-algorithms`: decisions per second of each algorithm through the memory store
 * (the data plane's exact call: `store.consume(key, algorithm, 1)` with `Date.now()`),
 * in this process, for one hot key (a flood from one client: mostly rejections) and for
 * 10 000 keys in turn (many clients: mostly admissions), plus the memory a flood of one
 * million distinct keys leaves behind at the default cap.
 *
 * Target (issue 4): ≥ 1M decisions/s per algorithm.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ALGORITHM_NAMES, createAlgorithm } from '../../services/limiter/algorithms/index.js';
import { SharedStore } from '../../services/limiter/stores/shared.js';
import { median } from '../lib/compare.js';
import type { BenchCase } from '../lib/types.js';

const PARAMS = { limit: 100, windowMs: 1000, burst: 100 };

function opsPerSecond(run: (n: number) => void, n: number): number {
  const start = process.hrtime.bigint();
  run(n);
  const ns = Number(process.hrtime.bigint() - start);
  return Math.round((n / ns) * 1e9);
}

const limiterAlgorithms: BenchCase = {
  name: 'limiter-algorithms',
  description:
    'decisions/s of each rate-limit algorithm through the memory store (1 hot key, 10k keys); RSS after 1M keys',
  async run(ctx) {
    const n = ctx.settings.quick ? 300_000 : 2_000_000;
    const keys = Array.from({ length: 10_000 }, (_, i) => `a:10.0.${i >> 8}.${i & 255}`);
    const rows: { algorithm: string; hotKey: number; tenThousandKeys: number }[] = [];
    // Warm-up: every algorithm through the same call sites first, so the first one measured
    // is not also the one paying for the JIT, and all meet the same (polymorphic) store code.
    for (const name of ALGORITHM_NAMES) {
      const algorithm = createAlgorithm(name, PARAMS);
      const store = SharedStore.create({ sweepIntervalMs: 0 });
      for (let i = 0; i < 200_000; i++) store.consume(keys[i % 10_000] as string, algorithm, 1);
      for (let i = 0; i < 200_000; i++) store.consume('k:bad-actor', algorithm, 1);
      store.close();
    }
    for (const name of ALGORITHM_NAMES) {
      const hot: number[] = [];
      const many: number[] = [];
      for (let round = 0; round < ctx.settings.rounds; round++) {
        const algorithm = createAlgorithm(name, PARAMS);
        const store = SharedStore.create({ sweepIntervalMs: 0 });
        let allowed = 0;
        hot.push(
          opsPerSecond((count) => {
            for (let i = 0; i < count; i++) if (store.consume('k:bad-actor', algorithm, 1).allowed) allowed++;
          }, n),
        );
        many.push(
          opsPerSecond((count) => {
            for (let i = 0; i < count; i++)
              if (store.consume(keys[i % 10_000] as string, algorithm, 1).allowed) allowed++;
          }, n),
        );
        store.close();
        if (allowed < 0) throw new Error('unreachable'); // keeps the loop observable
        await sleep(10);
      }
      const row = { algorithm: name, hotKey: median(hot), tenThousandKeys: median(many) };
      rows.push(row);
      ctx.log(
        `${name.padEnd(24)} hot key ${(row.hotKey / 1e6).toFixed(2)}M/s   10k keys ${(row.tenThousandKeys / 1e6).toFixed(2)}M/s`,
      );
    }

    // Memory: one million distinct keys through a store capped at the default 100 000,
    // measured after full collections (what stays, not the garbage of the evicted keys).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage();
    const store = SharedStore.create({ sweepIntervalMs: 0 });
    const bucket = createAlgorithm('token-bucket', { limit: 10, windowMs: 1000, burst: 10 });
    for (let i = 0; i < 1_000_000; i++) store.consume(`k:random-key-${i}-${i * 7919}`, bucket, 1);
    gc();
    const after = process.memoryUsage();
    const memory = {
      trackedKeys: store.trackedKeys(),
      cap: store.table.maxKeys,
      rssMiB: Math.round(after.rss / 2 ** 20),
      rssGrowthMiB: Math.round((after.rss - before.rss) / 2 ** 20),
      heapUsedGrowthMiB: Math.round((after.heapUsed - before.heapUsed) / 2 ** 20),
    };
    store.close();
    ctx.log(
      `1M distinct keys: ${memory.trackedKeys} tracked (cap ${memory.cap}), RSS ${memory.rssMiB} MiB (+${memory.rssGrowthMiB}), heap kept +${memory.heapUsedGrowthMiB} MiB`,
    );

    const target = Object.fromEntries(
      rows.map((r) => [`${r.algorithm} ≥ 1M/s`, Math.min(r.hotKey, r.tenThousandKeys) >= 1e6]),
    );
    const summary = [
      'algorithm                 hot key      10k keys   (decisions/s, median of rounds)',
      ...rows.map(
        (r) =>
          `${r.algorithm.padEnd(24)} ${(r.hotKey / 1e6).toFixed(2).padStart(6)}M/s   ${(r.tenThousandKeys / 1e6).toFixed(2).padStart(6)}M/s`,
      ),
      `1M distinct keys → ${memory.trackedKeys} tracked (cap ${memory.cap}); RSS ${memory.rssMiB} MiB (+${memory.rssGrowthMiB} MiB), heap kept +${memory.heapUsedGrowthMiB} MiB`,
      ...Object.entries(target).map(([k, v]) => `  target ${k}: ${v ? 'met' : 'MISSED'}`),
    ].join('\n');
    return { result: { n, params: PARAMS, rows, memory, target }, summary };
  },
};

export default limiterAlgorithms;
