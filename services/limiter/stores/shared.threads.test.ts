/**
 * Exactness across threads: four worker threads (`shared.threads.worker.ts`, TypeScript
 * loaded by tsx) hammer the same keys at once through `SharedStore`s over one table, for
 * every algorithm, and together admit exactly what one thread would:
 * - time frozen: 160 000 requests on 2 keys at one instant, split over the threads and
 *   decided concurrently, admit exactly the quota (50 000) per key (without the locks
 *   they admit more);
 * - a seeded random arrival sequence (instants with random gaps, random requests per key
 *   per instant), the threads in lockstep per instant: the same count per key as the
 *   single-threaded reference store (the algorithm over a `Map`). Well-defined because every
 *   request costs 1, so within one instant the order does not change how many pass.
 */
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { seeded } from '../../balancer/strategies/seeded.js';
import { CASE_START } from '../algorithms/cases.js';
import { ALGORITHM_NAMES, createAlgorithm } from '../algorithms/index.js';
import { ReferenceStore } from '../algorithms/testing.js';
import type { AlgorithmName } from '../types.js';
import { createSharedTable } from './shared.js';
import type { HammerData, Scenario, Tick } from './shared.threads.worker.js';

const THREADS = 4;
const QUOTA = 50_000;

function frozen(algorithm: AlgorithmName): Scenario {
  const requests = Array.from({ length: 160_000 }, (_, i) => i % 2);
  const params = { limit: QUOTA, windowMs: 60_000, burst: QUOTA };
  return { algorithm, params, keys: 2, ticks: [{ at: CASE_START + 30_000, requests }] };
}

function randomArrivals(algorithm: AlgorithmName, seed: number): Scenario {
  const random = seeded(seed);
  const ticks: Tick[] = [];
  let at = CASE_START + 12_345;
  for (let i = 0; i < 120; i++) {
    at += 1 + Math.floor(random() * 250);
    const requests = Array.from({ length: Math.floor(random() * 24) }, () => Math.floor(random() * 3));
    ticks.push({ at, requests });
  }
  return { algorithm, params: { limit: 12, windowMs: 1000, burst: 6 }, keys: 3, ticks };
}

/** Admitted per key when one thread replays the scenario through the reference store. */
function oneThread({ algorithm: name, params, keys, ticks }: Scenario): number[] {
  const algorithm = createAlgorithm(name, params);
  const clock = { now: 0 };
  const store = new ReferenceStore(() => clock.now);
  const counts: number[] = new Array(keys).fill(0);
  for (const { at, requests } of ticks) {
    clock.now = at;
    for (const key of requests)
      if (store.consume(`k${key}`, algorithm, 1).allowed) counts[key] = (counts[key] as number) + 1;
  }
  return counts;
}

function runThreads(scenarios: Scenario[]): Promise<number[][]> {
  const table = createSharedTable({ maxKeys: 64, logCapacity: QUOTA });
  const barrier = new SharedArrayBuffer(8);
  const workers = Array.from({ length: THREADS }, (_, thread) => {
    const workerData: HammerData = { table, barrier, thread, threads: THREADS, scenarios };
    return new Worker(new URL('./shared.threads.worker.ts', import.meta.url), {
      execArgv: ['--import', 'tsx'],
      workerData,
    });
  });
  const results = workers.map(
    (worker) =>
      new Promise<number[][]>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)));
      }),
  );
  return Promise.all(results).then((perThread) =>
    scenarios.map((scenario, s) =>
      Array.from({ length: scenario.keys }, (_, key) =>
        perThread.reduce((sum, thread) => sum + (thread[s]?.[key] ?? 0), 0),
      ),
    ),
  );
}

const scenarios = ALGORITHM_NAMES.flatMap((name, i) => [frozen(name), randomArrivals(name, 0x5eed + i)]);
let admitted: number[][] = [];

beforeAll(async () => {
  admitted = await runThreads(scenarios);
}, 30_000);

describe(`shared store: ${THREADS} threads on one table admit what one thread would`, () => {
  ALGORITHM_NAMES.forEach((name, i) => {
    it(`${name}: time frozen, 160 000 concurrent requests on 2 keys admit exactly ${QUOTA} per key`, () => {
      expect(admitted[2 * i]).toEqual([QUOTA, QUOTA]);
      expect(oneThread(scenarios[2 * i] as Scenario)).toEqual([QUOTA, QUOTA]);
    });

    it(`${name}: a random arrival sequence admits the reference store's count per key`, () => {
      const expected = oneThread(scenarios[2 * i + 1] as Scenario);
      expect(expected.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(admitted[2 * i + 1]).toEqual(expected);
    });
  });
});
