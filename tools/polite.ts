/**
 * @module
 * `npm run polite` (`make polite` without k6): a naive client and a polite one against the
 * edge limiter, side by side, at the same offered load, with distinct API keys and the
 * same quota (`naive-client` / `polite-client` in the policy files).
 *
 * - the **naive** client sends every arrival, whatever the answers (the bad actor's way);
 * - the **polite** client reads `RateLimit` and `Retry-After` on every answer and holds
 *   arrivals back while it must wait (`Politeness` in `loadtests/backoff.ts`, the
 *   same decision the k6 scenario `loadtests/polite.ts` makes).
 *
 * Every answer is also checked against the standard fields (present and well-formed,
 * `Retry-After` on a 429). Prints one line per interval and a table at the end: offered,
 * sent, admitted, 429s, held back, field problems per client, and the polite/naive ratios.
 *
 * Flags: `--target URL` (default $LIMITER_URL or :8080), `--rate N` (offered per client,
 * requests/s), `--duration 20s`, `--naive-key K`, `--polite-key K`, `--wait-full-t`
 * (after r=0 wait the whole `t`, the plain reading of the draft, to compare),
 * `--interval 1s`. Defaults from loadtests/scenarios.json ("polite").
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Politeness } from '../loadtests/backoff.js';
import { fieldProblems } from '../loadtests/ratelimit-fields.js';
import { runTraffic } from '../services/traffic/engine.js';
import { loadScenarios, requestFor } from '../services/traffic/scenarios.js';
import { Recorder } from '../services/traffic/stats.js';
import { durationFlag, numberFlag, type Output, runTrafficCli, UsageError, urlFlag } from './traffic/cli.js';

export interface PoliteOptions {
  target: string;
  /** Offered load of each client, requests/s. */
  rate: number;
  durationMs: number;
  naiveKey?: string;
  politeKey?: string;
  /** After r=0, wait the whole `t` instead of one unit of the window. [false] */
  waitFullT?: boolean;
  intervalMs: number;
  concurrency?: number;
  out: Output;
  signal?: AbortSignal;
}

export interface ClientFigures {
  client: 'naive' | 'polite';
  key: string;
  /** Arrivals at the offered rate. */
  offered: number;
  /** Requests actually sent (answered or not). */
  sent: number;
  /** Answered by the limiter with anything but 429 (the request went through). */
  admitted: number;
  limited: number;
  /** No answer, or a 5xx. */
  errors: number;
  /** Arrivals the polite client held back (it was backing off). */
  held: number;
  /** Arrivals not sent because too many requests were waiting. */
  dropped: number;
  /** Answers whose RateLimit-Policy / RateLimit / Retry-After fail the standard. */
  fieldProblems: number;
  firstProblem?: string;
  /** Polite only: backoffs taken after a 429 and after r=0. */
  backoffs?: Record<string, number>;
}

export interface PoliteReport {
  naive: ClientFigures;
  polite: ClientFigures;
  elapsedS: number;
  /** polite admitted / naive admitted. */
  admittedRatio: number;
  /** polite sent / naive sent. */
  sentRatio: number;
}

const CLIENTS = ['naive', 'polite'] as const;

function line(figures: ClientFigures): string {
  return (
    `client=${figures.client} offered=${figures.offered} sent=${figures.sent} admitted=${figures.admitted} ` +
    `limited=${figures.limited} errors=${figures.errors} held=${figures.held} dropped=${figures.dropped} ` +
    `field_problems=${figures.fieldProblems}`
  );
}

/** The end-of-run table, then one parsable line per client and one for the ratios. */
export function renderPoliteReport(report: PoliteReport): string {
  const { naive, polite } = report;
  const row = (label: string, get: (f: ClientFigures) => number) =>
    `  ${label.padEnd(26)}${String(get(naive)).padStart(9)}${String(get(polite)).padStart(9)}`;
  const lines = [
    `Naive vs polite client, ${report.elapsedS.toFixed(1)} s, same offered load and quota`,
    `  ${''.padEnd(26)}${'naive'.padStart(9)}${'polite'.padStart(9)}`,
    row('offered (arrivals)', (f) => f.offered),
    row('sent', (f) => f.sent),
    row('admitted (not 429)', (f) => f.admitted),
    row('429 Too Many Requests', (f) => f.limited),
    row('held back (backing off)', (f) => f.held),
    row('errors (no answer, 5xx)', (f) => f.errors),
    row('field problems', (f) => f.fieldProblems),
    '',
    `  The polite client got ${(report.admittedRatio * 100).toFixed(1)}% of the naive client's admitted ` +
      `requests while sending ${(report.sentRatio * 100).toFixed(1)}% as many` +
      (polite.backoffs
        ? ` (backoffs: ${polite.backoffs.quota ?? 0} on r=0, ${polite.backoffs['retry-after'] ?? 0} on a 429).`
        : '.'),
  ];
  if (naive.firstProblem || polite.firstProblem) {
    lines.push(`  first field problem: ${naive.firstProblem ?? polite.firstProblem}`);
  }
  lines.push(
    `final=polite ${line(naive)}`,
    `final=polite ${line(polite)}`,
    `final=polite admitted_ratio=${report.admittedRatio.toFixed(4)} sent_ratio=${report.sentRatio.toFixed(4)}`,
  );
  return lines.join('\n');
}

/** Runs both clients for the duration (or until `signal`), printing as it goes. */
export async function politeRun(options: PoliteOptions): Promise<PoliteReport> {
  const { actors } = loadScenarios();
  const naiveActor = actors.naive_client;
  const politeActor = actors.polite_client;
  if (!naiveActor || !politeActor) {
    throw new Error('loadtests/scenarios.json needs the naive_client and polite_client actors');
  }
  const keys = {
    naive: options.naiveKey ?? naiveActor.key ?? 'naive-client',
    polite: options.politeKey ?? politeActor.key ?? 'polite-client',
  };
  if (keys.naive === keys.polite) throw new UsageError('the naive and the polite client need distinct keys');
  try {
    const probe = await fetch(`${options.target}/healthz`, { signal: AbortSignal.timeout(5_000) });
    await probe.arrayBuffer();
  } catch {
    throw new Error(
      `no limiter answers at ${options.target}/healthz: start the lab (make up, or npm run lab)`,
    );
  }
  const politeness = new Politeness(!options.waitFullT);
  const recorder = new Recorder(1_000);
  const problems = { naive: 0, polite: 0 };
  const firstProblem: Partial<Record<'naive' | 'polite', string>> = {};
  const started = performance.now();
  let offered: Record<string, number> | undefined;

  const figures = (client: 'naive' | 'polite'): ClientFigures => {
    const counts = recorder.counts(client);
    const admitted = Object.entries(counts.statuses)
      .filter(([status]) => /^\d+$/.test(status) && status !== '429')
      .reduce((sum, [, n]) => sum + n, 0);
    return {
      client,
      key: keys[client],
      offered: offered?.[client] ?? counts.total + (counts.held ?? 0) + counts.dropped,
      sent: counts.total,
      admitted,
      limited: counts.limited,
      errors: counts.errors,
      held: counts.held ?? 0,
      dropped: counts.dropped,
      fieldProblems: problems[client],
      ...(firstProblem[client] ? { firstProblem: firstProblem[client] } : {}),
      ...(client === 'polite' ? { backoffs: { ...politeness.backoffs } } : {}),
    };
  };
  const observeFields =
    (client: 'naive' | 'polite') => (_at: number, res: Parameters<typeof fieldProblems>[0]) => {
      const found = fieldProblems(res);
      if (found.length === 0) return;
      problems[client] += 1;
      firstProblem[client] ??= `${client}: ${res.status} ${found.join('; ')}`;
    };
  for (const client of CLIENTS) recorder.declare(client);
  const timer = setInterval(() => {
    const t = ((performance.now() - started) / 1_000).toFixed(0);
    options.out.write(`t=${t}s ${CLIENTS.map((c) => line(figures(c))).join(' | ')}\n`);
  }, options.intervalMs);
  let elapsedMs = 0;
  try {
    const naiveObserve = observeFields('naive');
    const politeObserve = observeFields('polite');
    const result = await runTraffic({
      target: options.target,
      durationMs: options.durationMs,
      maxInFlight: options.concurrency ?? 200,
      timeoutMs: 5_000,
      graceMs: 2_000,
      ...(options.signal ? { signal: options.signal } : {}),
      actors: [
        {
          name: 'naive',
          pattern: { kind: 'rate', rate: options.rate },
          request: (n) => requestFor(naiveActor, n, keys.naive),
          observe: naiveObserve,
        },
        {
          name: 'polite',
          pattern: { kind: 'rate', rate: options.rate },
          request: (n) => requestFor(politeActor, n, keys.polite),
          waitMs: (at) => politeness.waitMs(at),
          sending: () => politeness.sending(),
          lost: () => politeness.lost(),
          observe: (at, res, sentAt) => {
            politeObserve(at, res);
            politeness.observe(at, res, sentAt);
          },
        },
      ],
      onOutcome: (o) => recorder.record(o),
      onDrop: (actor) => recorder.drop(actor),
      onHold: (actor) => recorder.hold(actor),
    });
    offered = result.started;
    elapsedMs = result.elapsedMs;
  } finally {
    clearInterval(timer);
  }
  const naive = figures('naive');
  const polite = figures('polite');
  const report: PoliteReport = {
    naive,
    polite,
    elapsedS: elapsedMs / 1_000,
    admittedRatio: naive.admitted ? polite.admitted / naive.admitted : 0,
    sentRatio: naive.sent ? polite.sent / naive.sent : 0,
  };
  options.out.write(`\n${renderPoliteReport(report)}\n`);
  return report;
}

const USAGE = `usage: npm run polite -- [--target URL] [--rate N] [--duration 20s] [--naive-key K] [--polite-key K] [--wait-full-t] [--interval 1s]
  A naive and a polite client side by side against the edge limiter, same offered load, same quota.
  Defaults: target $LIMITER_URL or http://127.0.0.1:8080, rate, duration and keys from loadtests/scenarios.json (polite).`;

export function parsePoliteArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Omit<PoliteOptions, 'out'> | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      'naive-key': { type: 'string' },
      'polite-key': { type: 'string' },
      'wait-full-t': { type: 'boolean' },
      interval: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const scenario = loadScenarios().scenarios.polite;
  const entry = scenario?.traffic.polite_client;
  const options: Omit<PoliteOptions, 'out'> = {
    target: urlFlag('target', values.target, env.LIMITER_URL ?? 'http://127.0.0.1:8080'),
    rate: numberFlag('rate', values.rate, entry && 'rate' in entry ? entry.rate : 50, 10_000),
    durationMs: durationFlag(
      'duration',
      values.duration,
      durationFlag('duration', scenario?.duration, 20_000),
    ),
    intervalMs: durationFlag('interval', values.interval, 1_000),
  };
  if (values['naive-key']) options.naiveKey = values['naive-key'];
  if (values['polite-key']) options.politeKey = values['polite-key'];
  if (values['wait-full-t']) options.waitFullT = true;
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runTrafficCli('polite', USAGE, parsePoliteArgs, politeRun);
}
