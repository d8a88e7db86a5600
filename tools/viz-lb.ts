/**
 * @module
 * `npm run viz:lb` (Part A): steady traffic **through the balancer** and a live bar chart of
 * who answered (`X-Upstream`), with bars for 429s and errors, the active strategy in the
 * title and each node's in-flight count from the balancer's metrics.
 *
 * Flags: `--target URL` (balancer, default :8081), `--rate N` req/s, `--concurrency N`
 * (most requests in flight), `--duration 60s`, `--window 5s` (bars count only the last
 * N seconds, so a strategy switch shows within seconds), `--interval 1s`, `--state URL`
 * (where to read the balancer's state; default the target), `--token` (or $ADMIN_TOKEN:
 * in-flight and health from `/admin/state`; without it, from the public `/metrics`).
 * On a terminal the chart redraws in place; otherwise one `key=value` line per interval.
 * Ends with a summary table and a `final=lb ...` line.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runTraffic } from '../services/traffic/engine.js';
import { loadScenarios, requestFor } from '../services/traffic/scenarios.js';
import { classify, type Outcome, Recorder } from '../services/traffic/stats.js';
import { durationFlag, numberFlag, type Output, runTrafficCli, urlFlag } from './traffic/cli.js';
import { type BalancerInfo, fetchBalancerState, upstreamFor } from './viz/balancer-info.js';
import { ANSI } from './viz/format.js';
import { type LbCounts, type LbView, renderLbFrame, renderLbLine, renderLbSummary } from './viz/lb-render.js';

export interface VizLbOptions {
  target: string;
  /** Where the balancer's `/metrics` and `/admin/state` are (the target when it is the balancer). */
  state?: string;
  /** Admin token: in-flight and health from `/admin/state` (else from the public `/metrics`). */
  token?: string;
  rate: number;
  concurrency: number;
  durationMs: number;
  windowMs: number;
  intervalMs: number;
  out: Output;
  signal?: AbortSignal;
}

export interface VizLbResult {
  strategy?: string;
  /** Whole-run answers per node, plus 429s and errors. */
  totals: LbCounts;
}

/** Counts the outcomes per node / 429 / error. */
export function countOutcomes(outcomes: Iterable<Outcome>): LbCounts {
  const nodes = new Map<string, number>();
  let limited = 0;
  let errors = 0;
  for (const o of outcomes) {
    const kind = classify(o.status);
    if (kind === 'limited') limited += 1;
    else if (kind === 'error') errors += 1;
    else nodes.set(o.upstream ?? 'unnamed', (nodes.get(o.upstream ?? 'unnamed') ?? 0) + 1);
  }
  return { nodes: [...nodes].map(([name, count]) => ({ name, count })), limited, errors };
}

function withLoad(counts: LbCounts, info: BalancerInfo | undefined): LbCounts {
  if (!info) return counts;
  const names = new Set(counts.nodes.map((n) => n.name));
  const nodes = counts.nodes.map((n) => ({ ...n, ...upstreamFor(info, n.name) }));
  // Nodes that have not answered in the window still get a row (an ejected node shows as DOWN, 0).
  for (const [upstream, load] of Object.entries(info.upstreams)) {
    if (![...names].some((n) => upstream.includes(n) || n.includes(upstream))) {
      nodes.push({ name: upstream, count: 0, ...load });
    }
  }
  return { ...counts, nodes };
}

export async function vizLb(options: VizLbOptions): Promise<VizLbResult> {
  const scenarios = loadScenarios();
  const actor = scenarios.actors.client;
  if (!actor) throw new Error('loadtests/scenarios.json has no "client" actor');
  const recorder = new Recorder(options.windowMs);
  const all = new Map<string, number>();
  const totals: LbCounts = { nodes: [], limited: 0, errors: 0 };
  const latencies: number[] = [];
  let dropped = 0;
  let info: BalancerInfo | undefined;
  const stateUrl = options.state ?? options.target;
  const started = performance.now();
  const view = (): LbView => ({
    target: options.target,
    ...(info?.strategy ? { strategy: info.strategy } : {}),
    elapsedS: (performance.now() - started) / 1_000,
    durationS: options.durationMs / 1_000,
    windowS: options.windowMs / 1_000,
    rate: options.rate,
  });
  const tty = Boolean(options.out.isTTY);
  info = await fetchBalancerState(stateUrl, options.token);
  const draw = () => {
    const current = withLoad(countOutcomes(recorder.recent(performance.now() - started)), info);
    options.out.write(
      tty
        ? `${ANSI.home}${renderLbFrame(view(), current, { color: true })}\n`
        : `${renderLbLine(view(), current)}\n`,
    );
    void fetchBalancerState(stateUrl, options.token).then((fresh) => {
      if (fresh) info = fresh;
    });
  };
  const timer = setInterval(draw, options.intervalMs);
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
          name: 'client',
          pattern: { kind: 'rate', rate: options.rate },
          request: (n) => requestFor(actor, n),
        },
      ],
      onOutcome: (o) => {
        recorder.record({ ...o, at: performance.now() - started });
        latencies.push(o.latencyMs);
        const kind = classify(o.status);
        if (kind === 'limited') totals.limited += 1;
        else if (kind === 'error') totals.errors += 1;
        else all.set(o.upstream ?? 'unnamed', (all.get(o.upstream ?? 'unnamed') ?? 0) + 1);
      },
      onDrop: () => {
        dropped += 1;
      },
    });
  } finally {
    clearInterval(timer);
  }
  draw();
  // Every upstream the balancer knows gets a row, also one that answered nothing (ejected, or always busy).
  totals.nodes = withLoad(
    { nodes: [...all].map(([name, count]) => ({ name, count })), limited: 0, errors: 0 },
    info,
  ).nodes;
  latencies.sort((a, b) => a - b);
  const pick = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? 0;
  options.out.write(`\n${renderLbSummary(view(), { ...totals, dropped, p50: pick(50), p95: pick(95) })}\n`);
  return { ...(info?.strategy ? { strategy: info.strategy } : {}), totals };
}

const USAGE = `usage: npm run viz:lb -- [--target URL] [--rate N] [--concurrency N] [--duration 60s] [--window 5s] [--interval 1s] [--state URL] [--token T]
  Sends steady traffic through the balancer and charts which node answered (X-Upstream).
  Defaults: target $BALANCER_URL or http://127.0.0.1:8081, rate and duration from loadtests/scenarios.json (viz_lb).`;

/** Parses the CLI flags into options (pure apart from reading the scenario file). */
export function parseVizLbArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Omit<VizLbOptions, 'out'> | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      state: { type: 'string' },
      token: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      window: { type: 'string' },
      interval: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const scenario = loadScenarios().scenarios.viz_lb;
  const client = scenario?.traffic.client;
  const defaultRate = client && 'rate' in client ? client.rate : 20;
  const options: Omit<VizLbOptions, 'out'> = {
    target: urlFlag('target', values.target, env.BALANCER_URL ?? 'http://127.0.0.1:8081'),
    rate: numberFlag('rate', values.rate, defaultRate, 100_000),
    concurrency: numberFlag('concurrency', values.concurrency, 50, 10_000),
    durationMs: durationFlag(
      'duration',
      values.duration,
      durationFlag('duration', scenario?.duration, 60_000),
    ),
    windowMs: durationFlag('window', values.window, durationFlag('window', scenario?.window, 5_000)),
    intervalMs: durationFlag('interval', values.interval, 1_000),
  };
  if (values.state) options.state = urlFlag('state', values.state, '');
  const token = values.token ?? env.ADMIN_TOKEN;
  if (token) options.token = token;
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runTrafficCli('viz:lb', USAGE, parseVizLbArgs, vizLb);
}
