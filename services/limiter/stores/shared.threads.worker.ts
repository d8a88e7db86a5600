/**
 * @module
 * One thread of `shared.threads.test.ts`: replays its share of every scenario through a
 * `SharedStore` over the table all threads share, in lockstep with the other threads
 * (a barrier before each instant, so all threads decide one instant together), and
 * posts how many requests per key it was admitted.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createAlgorithm } from '../algorithms/index.js';
import type { AlgorithmName, AlgorithmParams } from '../types.js';
import { SharedStore, type SharedTable } from './shared.js';

/** One instant: the clock, and the key index of each request made at it. */
export interface Tick {
  at: number;
  requests: number[];
}

export interface Scenario {
  algorithm: AlgorithmName;
  params: AlgorithmParams;
  keys: number;
  ticks: Tick[];
}

export interface HammerData {
  table: SharedTable;
  /** Two Int32 words: threads arrived at the barrier, and the barrier's generation. */
  barrier: SharedArrayBuffer;
  thread: number;
  threads: number;
  scenarios: Scenario[];
}

const { table, barrier, thread, threads, scenarios } = workerData as HammerData;
const words = new Int32Array(barrier);
const ARRIVED = 0;
const GENERATION = 1;

/** Returns once all `threads` threads have called it (a reusable generation barrier). */
function meet() {
  const generation = Atomics.load(words, GENERATION);
  if (Atomics.add(words, ARRIVED, 1) === threads - 1) {
    Atomics.store(words, ARRIVED, 0);
    Atomics.add(words, GENERATION, 1);
    Atomics.notify(words, GENERATION);
    return;
  }
  while (Atomics.load(words, GENERATION) === generation) Atomics.wait(words, GENERATION, generation);
}

let now = 0;
const store = new SharedStore(table, { now: () => now, sweepIntervalMs: 0 });
const admitted = scenarios.map(({ algorithm: name, params, keys, ticks }, index) => {
  const algorithm = createAlgorithm(name, params);
  const counts: number[] = new Array(keys).fill(0);
  for (const { at, requests } of ticks) {
    meet();
    now = at;
    for (let i = thread; i < requests.length; i += threads) {
      const key = requests[i] as number;
      if (store.consume(`s${index}:k${key}`, algorithm, 1).allowed) counts[key] = (counts[key] as number) + 1;
    }
  }
  meet();
  return counts;
});
parentPort?.postMessage(admitted);
