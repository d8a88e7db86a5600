/**
 * @module
 * `npm run viz:rl` (Part B): a good user and a bad actor against the edge limiter, each
 * with its **own API key** and **valid requests** (the original's bad actor sent an invalid
 * body from the good user's IP; here the limiter can tell them apart and only the flood
 * is refused).
 *
 * Flags: `--target URL` (limiter, default :8080), `--good-rate N`, `--bad-rate N` (up to
 * thousands), `--good-key`, `--bad-key`, `--concurrency N`, `--duration 60s`,
 * `--interval 1s`, `--polite` (the bad actor backs off on `RateLimit` and `Retry-After`,
 * as `npm run polite`'s polite client does; its held-back requests are not sent). On a terminal: live counters of 200/429 per actor and the latest
 * request lines (who, status, latency, remaining quota from `RateLimit`); otherwise one
 * `key=value` line per interval. Ends with success rate and p50/p95 per actor.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Politeness } from '../loadtests/backoff.js';
import { runTraffic, type TrafficActor } from '../services/traffic/engine.js';
import { loadScenarios, requestFor } from '../services/traffic/scenarios.js';
import { type ActorCounts, type ActorSummary, type Outcome, Recorder } from '../services/traffic/stats.js';
import { durationFlag, numberFlag, type Output, runTrafficCli, UsageError, urlFlag } from './traffic/cli.js';
import { ANSI } from './viz/format.js';
import { type RlView, renderRlFrame, renderRlLine, renderRlSummary } from './viz/rl-render.js';

export interface VizRlOptions {
  target: string;
  goodRate: number;
  badRate: number;
  goodKey?: string;
  badKey?: string;
  concurrency: number;
  durationMs: number;
  intervalMs: number;
  /** The bad actor backs off on RateLimit and Retry-After instead of sending regardless. */
  polite?: boolean;
  /** Latest request lines kept on screen. [14] */
  lines?: number;
  out: Output;
  signal?: AbortSignal;
}

export async function vizRl(options: VizRlOptions): Promise<ActorSummary[]> {
  const { actors } = loadScenarios();
  const good = actors.good_user;
  const bad = actors.bad_actor;
  if (!good || !bad) throw new Error('loadtests/scenarios.json needs the good_user and bad_actor actors');
  const goodKey = options.goodKey ?? good.key;
  const badKey = options.badKey ?? bad.key;
  if (goodKey && goodKey === badKey)
    throw new UsageError('the good user and the bad actor need distinct keys');
  const recorder = new Recorder(1_000);
  recorder.declare('good_user');
  recorder.declare('bad_actor');
  const latest: Outcome[] = [];
  const keep = options.lines ?? 14;
  const started = performance.now();
  const tty = Boolean(options.out.isTTY);
  const view = (): RlView => ({
    target: options.target,
    elapsedS: (performance.now() - started) / 1_000,
    durationS: options.durationMs / 1_000,
    rates: { good_user: options.goodRate, bad_actor: options.badRate },
  });
  const counts = (): Record<string, ActorCounts> =>
    Object.fromEntries(recorder.actors().map((a) => [a, recorder.counts(a)]));
  const draw = () => {
    options.out.write(
      tty
        ? `${ANSI.home}${renderRlFrame(view(), counts(), latest, true)}\n`
        : `${renderRlLine(view(), counts())}\n`,
    );
  };
  const timer = setInterval(draw, options.intervalMs);
  const politeness = new Politeness();
  const politeHooks: Partial<TrafficActor> = options.polite
    ? {
        waitMs: (at) => politeness.waitMs(at),
        observe: (at, res, sentAt) => politeness.observe(at, res, sentAt),
        sending: () => politeness.sending(),
        lost: () => politeness.lost(),
      }
    : {};
  try {
    await runTraffic({
      target: options.target,
      durationMs: options.durationMs,
      maxInFlight: options.concurrency,
      timeoutMs: 5_000,
      graceMs: 2_000,
      ...(options.signal ? { signal: options.signal } : {}),
      actors: [
        {
          name: 'good_user',
          pattern: { kind: 'rate', rate: options.goodRate },
          request: (n) => requestFor(good, n, goodKey),
        },
        {
          name: 'bad_actor',
          pattern: { kind: 'rate', rate: options.badRate },
          request: (n) => requestFor(bad, n, badKey),
          ...politeHooks,
        },
      ],
      onOutcome: (o) => {
        recorder.record(o);
        // The good user's lines always show; the flood's are sampled so the screen stays readable.
        if (o.actor === 'good_user' || latest.filter((l) => l.actor === 'bad_actor').length < keep - 4) {
          latest.push(o);
        } else {
          const index = latest.findIndex((l) => l.actor === 'bad_actor');
          latest.splice(index, 1);
          latest.push(o);
        }
        while (latest.length > keep) latest.shift();
      },
      onDrop: (actor) => recorder.drop(actor),
      onHold: (actor) => recorder.hold(actor),
    });
  } finally {
    clearInterval(timer);
  }
  draw();
  const summaries = recorder.actors().map((a) => recorder.summary(a));
  options.out.write(`\n${renderRlSummary(view(), summaries)}\n`);
  const held = recorder.counts('bad_actor').held ?? 0;
  if (options.polite)
    options.out.write(`polite bad actor: ${held} requests held back (backing off), not sent\n`);
  return summaries;
}

const USAGE = `usage: npm run viz:rl -- [--target URL] [--good-rate N] [--bad-rate N] [--good-key K] [--bad-key K] [--concurrency N] [--duration 60s] [--interval 1s] [--polite]
  A good user and a bad actor (distinct API keys, valid requests) against the edge limiter.
  Defaults: target $LIMITER_URL or http://127.0.0.1:8080, rates and keys from loadtests/scenarios.json (viz_rl).`;

export function parseVizRlArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Omit<VizRlOptions, 'out'> | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      'good-rate': { type: 'string' },
      'bad-rate': { type: 'string' },
      'good-key': { type: 'string' },
      'bad-key': { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      interval: { type: 'string' },
      polite: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const scenario = loadScenarios().scenarios.viz_rl;
  const rateOf = (actor: string, fallback: number) => {
    const entry = scenario?.traffic[actor];
    return entry && 'rate' in entry ? entry.rate : fallback;
  };
  const options: Omit<VizRlOptions, 'out'> = {
    target: urlFlag('target', values.target, env.LIMITER_URL ?? 'http://127.0.0.1:8080'),
    goodRate: numberFlag('good-rate', values['good-rate'], rateOf('good_user', 1), 10_000),
    badRate: numberFlag('bad-rate', values['bad-rate'], rateOf('bad_actor', 10), 100_000),
    concurrency: numberFlag('concurrency', values.concurrency, 200, 10_000),
    durationMs: durationFlag(
      'duration',
      values.duration,
      durationFlag('duration', scenario?.duration, 60_000),
    ),
    intervalMs: durationFlag('interval', values.interval, 1_000),
  };
  if (values['good-key']) options.goodKey = values['good-key'];
  if (values['bad-key']) options.badKey = values['bad-key'];
  if (values.polite) options.polite = true;
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runTrafficCli('viz:rl', USAGE, parseVizRlArgs, vizRl);
}
