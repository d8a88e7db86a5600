/**
 * @module
 * Interleaved comparison: every target gets a warm-up, then the targets run in rounds,
 * each round in a rotated order (A B C, B C A, C A B, ...), so a slow phase of a shared
 * machine hits every target alike. Ratios are taken within a round, then the median.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { treeCpuSeconds } from './processes.js';
import type { BenchContext } from './types.js';
import { type WrkResult, wrk } from './wrk.js';

export interface Target {
  name: string;
  url: string;
  /** Root pid of the server under test (its whole process tree is charged). */
  pid: number;
  /** More processes charged to the same target (a chain of services: limiter + balancer). */
  morePids?: number[];
}

export interface Run {
  round: number;
  target: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Server CPU (user + system) per request, µs. */
  cpuUsPerRequest: number;
  /** The slower of two CPU probes around the run (ms for a fixed loop): high = a slow phase. */
  probeMs: number;
  /** 1-minute load average at the start (other people's work on a shared machine). */
  load1: number;
}

/**
 * A fixed amount of CPU work, timed. On a shared VM the host sometimes runs us at half
 * speed for tens of seconds; a run whose probes are slow is marked so its ratios can be
 * left out (see proxy-ceilings.md, "slow phases").
 */
export function probe(): number {
  const start = performance.now();
  let x = 0;
  for (let i = 0; i < 30_000_000; i++) x = (x * 31 + i) | 0;
  if (x === 42) process.stdout.write('');
  return performance.now() - start;
}

export interface TargetSummary {
  target: string;
  runs: number;
  requestsPerSecond: { median: number; min: number; max: number };
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  errors: number;
}

export const median = (values: number[]) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function measure(
  ctx: BenchContext,
  target: Target,
  seconds: number,
): Promise<WrkResult & { cpuUs: number; probeMs: number }> {
  const pids = [target.pid, ...(target.morePids ?? [])];
  const cpuNow = () => pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
  const probeBefore = probe();
  const before = cpuNow();
  const result = await wrk(target.url, { seconds, connections: ctx.settings.connections });
  const cpu = cpuNow() - before;
  const probeMs = Math.max(probeBefore, probe());
  return { ...result, probeMs, cpuUs: result.requests > 0 ? (cpu * 1e6) / result.requests : Number.NaN };
}

/** Runs the rounds and returns every run. */
export async function alternate(ctx: BenchContext, targets: Target[]): Promise<Run[]> {
  const { rounds, durationS, warmupS } = ctx.settings;
  for (let i = 0; i < 3; i++) probe(); // let V8 optimise the probe loop before it is used as a yardstick
  for (const target of targets) {
    ctx.log(`warm-up ${target.name} (${warmupS}s)`);
    await wrk(target.url, { seconds: warmupS, connections: ctx.settings.connections });
  }
  const runs: Run[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length] as Target);
    for (const target of order) {
      await sleep(500);
      const load1 = loadavg()[0] as number;
      const r = await measure(ctx, target, durationS);
      runs.push({
        probeMs: Math.round(r.probeMs * 10) / 10,
        load1: Math.round(load1 * 10) / 10,
        round,
        target: target.name,
        requestsPerSecond: Math.round(r.requestsPerSecond),
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        errors: r.errors,
        cpuUsPerRequest: Math.round(r.cpuUs * 10) / 10,
      });
      ctx.log(
        `round ${round}/${rounds} ${target.name.padEnd(12)} ${Math.round(r.requestsPerSecond).toString().padStart(6)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ${r.cpuUs.toFixed(0)} µs CPU/req  errors ${r.errors}  probe ${r.probeMs.toFixed(0)} ms  load ${load1.toFixed(1)}`,
      );
    }
  }
  return runs;
}

export function summarize(runs: Run[], targets: string[]): TargetSummary[] {
  return targets.map((target) => {
    const mine = runs.filter((r) => r.target === target);
    const rps = mine.map((r) => r.requestsPerSecond);
    return {
      target,
      runs: mine.length,
      requestsPerSecond: { median: Math.round(median(rps)), min: Math.min(...rps), max: Math.max(...rps) },
      p50Ms: median(mine.map((r) => r.p50Ms)),
      p99Ms: median(mine.map((r) => r.p99Ms)),
      cpuUsPerRequest: median(mine.map((r) => r.cpuUsPerRequest)),
      errors: mine.reduce((sum, r) => sum + r.errors, 0),
    };
  });
}

/**
 * Rounds in which every run's probe stayed within 1.5× the fastest probe of the whole
 * run (no slow phase). Falls back to all rounds when fewer than two are clean.
 */
export function cleanRounds(runs: Run[]): number[] {
  const fastest = Math.min(...runs.map((r) => r.probeMs));
  const rounds = [...new Set(runs.map((r) => r.round))];
  const clean = rounds.filter((round) =>
    runs.filter((r) => r.round === round).every((r) => r.probeMs <= fastest * 1.5),
  );
  return clean;
}

/** Median over rounds of `metric(a) / metric(b)` within the same round (optionally only `rounds`). */
export function pairedRatio(
  runs: Run[],
  a: string,
  b: string,
  metric: (r: Run) => number,
  rounds?: number[],
): number {
  const ratios: number[] = [];
  for (const round of rounds ?? new Set(runs.map((r) => r.round))) {
    const ra = runs.find((r) => r.round === round && r.target === a);
    const rb = runs.find((r) => r.round === round && r.target === b);
    if (ra && rb && metric(rb) > 0) ratios.push(metric(ra) / metric(rb));
  }
  return Math.round(median(ratios) * 1000) / 1000;
}

export function table(summaries: TargetSummary[]): string {
  const lines = ['target        req/s (min–max)          p50 ms   p99 ms   CPU µs/req  errors'];
  for (const s of summaries) {
    lines.push(
      `${s.target.padEnd(13)} ${`${s.requestsPerSecond.median} (${s.requestsPerSecond.min}–${s.requestsPerSecond.max})`.padEnd(24)} ${s.p50Ms.toFixed(2).padStart(6)}   ${s.p99Ms.toFixed(2).padStart(6)}   ${s.cpuUsPerRequest.toFixed(0).padStart(10)}  ${s.errors}`,
    );
  }
  return lines.join('\n');
}
