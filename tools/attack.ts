/**
 * @module
 * `npm run attack` (`make attack` without k6): the good user and the bad actor at once through
 * the edge limiter, the k6 script `loadtests/attack.ts` in Node, so the attack needs no Docker.
 * Same scenario (loadtests/scenarios.json "attack": rates, keys, the bad actor's start time),
 * same pass/fail thresholds as the k6 run (good user: < 1% failed, p95 < 500 ms, ≥ 99% served
 * 2xx; bad actor: > 50% throttled with 429); a threshold crossed exits 1, as k6 does.
 * The RateLimit field thresholds are the k6 script's alone (`npm run polite` checks the fields).
 *
 * Flags: `--target URL` (default $LIMITER_URL or :8080), `--duration 60s`, `--bad-rate N`
 * (the k6 script's BAD_ACTOR_RATE, e.g. 10000 for the flood).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runTraffic } from '../services/traffic/engine.js';
import { loadScenarios } from '../services/traffic/scenarios.js';
import { type ActorSummary, Recorder } from '../services/traffic/stats.js';
import { actorsFor } from './incidents/run.js';
import { durationFlag, numberFlag, type Output, runTrafficCli, urlFlag } from './traffic/cli.js';

export interface AttackOptions {
  target: string;
  durationMs: number;
  /** Replaces the bad actor's rate from the scenario file. */
  badRate?: number;
  out: Output;
  signal?: AbortSignal;
}

export interface Threshold {
  /** As the k6 script names it. */
  name: string;
  value: string;
  passed: boolean;
}

/** The k6 script's thresholds, computed from the two actors' summaries. */
export function attackThresholds(good: ActorSummary, bad: ActorSummary): Threshold[] {
  const rate = (part: number, total: number) => (total === 0 ? 0 : part / total);
  const failed = rate(good.total - good.ok, good.total);
  const throttled = rate(bad.limited, bad.total);
  return [
    {
      name: 'http_req_failed{scenario:good_user} rate<0.01',
      value: failed.toFixed(4),
      passed: failed < 0.01,
    },
    {
      name: 'http_req_duration{scenario:good_user} p(95)<500',
      value: `${good.p95.toFixed(1)}ms`,
      passed: good.total > 0 && good.p95 < 500,
    },
    {
      name: 'checks{scenario:good_user} served (2xx) rate>=0.99',
      value: good.successRate.toFixed(4),
      passed: good.total > 0 && good.successRate >= 0.99,
    },
    {
      name: 'checks{scenario:bad_actor} throttled (429) rate>0.5',
      value: throttled.toFixed(4),
      passed: throttled > 0.5,
    },
  ];
}

/** The report: one line per actor, then each threshold with ✓ or ✗. */
export function renderAttackReport(summaries: ActorSummary[], thresholds: Threshold[]): string {
  const actors = summaries.map(
    (s) =>
      `  ${s.actor.padEnd(10)} sent ${String(s.total).padStart(6)}  2xx ${String(s.ok).padStart(6)}  429 ${String(s.limited).padStart(6)}  errors ${String(s.errors).padStart(4)}  dropped ${String(s.dropped).padStart(4)}  p50 ${s.p50.toFixed(1)}ms  p95 ${s.p95.toFixed(1)}ms`,
  );
  const checks = thresholds.map((t) => `  ${t.passed ? '✓' : '✗'} ${t.name.padEnd(52)} ${t.value}`);
  const verdict = thresholds.every((t) => t.passed) ? 'all thresholds passed' : 'thresholds crossed';
  return ['attack: summary (Node traffic engine)', ...actors, 'thresholds:', ...checks, verdict].join('\n');
}

/** Runs the attack scenario; sets the exit code to 1 when a threshold is crossed. */
export async function attack(options: AttackOptions): Promise<Threshold[]> {
  const file = loadScenarios();
  const actors = actorsFor(file, file.scenarios.attack?.traffic ?? {}).map((actor) =>
    actor.name === 'bad_actor' && options.badRate !== undefined && actor.pattern.kind === 'rate'
      ? { ...actor, pattern: { ...actor.pattern, rate: options.badRate } }
      : actor,
  );
  const recorder = new Recorder();
  for (const actor of actors) recorder.declare(actor.name);
  options.out.write(
    `attack (Node, no k6 here): ${actors.map((a) => `${a.name} ${a.pattern.kind === 'rate' ? `${a.pattern.rate}/s` : 'bursts'}`).join(', ')} → ${options.target} for ${options.durationMs / 1000}s\n`,
  );
  await runTraffic({
    target: options.target,
    actors,
    durationMs: options.durationMs,
    ...(options.signal ? { signal: options.signal } : {}),
    onOutcome: (o) => recorder.record(o),
    onDrop: (actor) => recorder.drop(actor),
  });
  const summaries = actors.map((a) => recorder.summary(a.name));
  const [good, bad] = ['good_user', 'bad_actor'].map((name) => summaries.find((s) => s.actor === name));
  if (!good || !bad) throw new Error('loadtests/scenarios.json: "attack" needs the good_user and bad_actor');
  const thresholds = attackThresholds(good, bad);
  options.out.write(`\n${renderAttackReport(summaries, thresholds)}\n`);
  if (!thresholds.every((t) => t.passed)) process.exitCode = 1;
  return thresholds;
}

const USAGE = `usage: npm run attack -- [--target URL] [--duration 60s] [--bad-rate N]
  The good user and the bad actor at once through the edge limiter (loadtests/scenarios.json "attack").`;

export function parseAttackArgs(argv: string[], env = process.env): Omit<AttackOptions, 'out'> | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      duration: { type: 'string' },
      'bad-rate': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const scenario = loadScenarios().scenarios.attack;
  return {
    target: urlFlag('target', values.target, env.LIMITER_URL ?? 'http://127.0.0.1:8080'),
    durationMs: durationFlag(
      'duration',
      values.duration,
      durationFlag('duration', scenario?.duration, 60_000),
    ),
    ...(values['bad-rate'] ? { badRate: numberFlag('bad-rate', values['bad-rate'], 200, 100_000) } : {}),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runTrafficCli('attack', USAGE, parseAttackArgs, attack);
}
