/**
 * @module
 * `npm run chaos` / `make chaos`: the original workshop's kill script (a random node SIGKILLed
 * every N seconds), bounded and reporting. Steady idempotent traffic goes through the edge
 * while a node is killed every `--every`, started again after `--restart-after`; at the end
 * (or on Ctrl-C) every node is started again and awaited, and a report says how many requests
 * were sent and failed (by kind), which node was killed when, and how long each was out.
 *
 * Targets: `--target local` (default) starts a lab of its own (the `npm run lab` runner) and
 * kills its node processes; `--target compose` kills the running compose lab's node
 * containers (`docker kill`, `docker start`). Exit code: 0 when no request failed and every
 * node is back, 1 otherwise, 2 for a bad flag, 130 after Ctrl-C.
 */
import { randomInt } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadScenarios } from '../services/traffic/scenarios.js';
import { composeTarget } from './chaos/compose.js';
import { localTarget } from './chaos/local.js';
import { renderReport } from './chaos/report.js';
import { runChaos } from './chaos/run.js';
import type { ChaosTarget } from './chaos/target.js';
import { durationFlag, interruptSignal, numberFlag, runCli, UsageError, urlFlag } from './traffic/cli.js';

const USAGE = `usage: npm run chaos -- [--target local|compose] [--duration 30s] [--every 5s] [--restart-after 2s]
         [--rate N] [--seed N] [--nodes 1,3] [--max-down N] [--settle 20s] [--json] [--verbose]
         [--port-offset N] (local)   [--edge URL] [--balancer URL] [--token T] (compose)
  Kills a random node every --every while steady GET traffic goes through the edge, starts it
  again after --restart-after, and reports requests sent and failed, faults, time each node was out.
  Defaults: rate and duration from loadtests/scenarios.json ("chaos"), a kill every 5s, restart
  after 2s, every node killable, at most N-1 nodes out at once, a random seed (printed).
  local: starts its own lab (npm run lab's runner) on the lab's ports + --port-offset.
  compose: the running compose lab (make up); edge $LIMITER_URL or :$LIMITER_PORT (8080),
  balancer $BALANCER_URL or :$BALANCER_PORT (8081), token $ADMIN_TOKEN or lab-admin.`;

export interface ChaosFlags {
  target: 'local' | 'compose';
  durationMs: number;
  everyMs: number;
  restartAfterMs: number;
  rate: number;
  seed: number;
  /** As given (`1,3` or `node-1,node-3`); resolved against the target's nodes. */
  nodes?: string[];
  maxDown?: number;
  settleMs: number;
  json: boolean;
  verbose: boolean;
  portOffset: number;
  edge: string;
  balancer: string;
  token: string;
}

function integerFlag(name: string, value: string | undefined, fallback: number, min: number, max: number) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Parses the flags (pure apart from reading the scenario file); throws UsageError naming the flag. */
export function parseChaosArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ChaosFlags | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      duration: { type: 'string' },
      every: { type: 'string' },
      'restart-after': { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      nodes: { type: 'string' },
      'max-down': { type: 'string' },
      settle: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'port-offset': { type: 'string' },
      edge: { type: 'string' },
      balancer: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const target = values.target ?? 'local';
  if (target !== 'local' && target !== 'compose')
    throw new UsageError(`--target must be local or compose, got "${target}"`);
  const scenario = loadScenarios().scenarios.chaos;
  const traffic = scenario?.traffic.chaos_client;
  const durationMs = durationFlag(
    'duration',
    values.duration,
    durationFlag('duration', scenario?.duration, 30_000),
  );
  const everyMs = durationFlag('every', values.every, 5_000);
  if (everyMs >= durationMs)
    throw new UsageError(
      `--every (${everyMs / 1000}s) must be shorter than --duration (${durationMs / 1000}s)`,
    );
  let nodes: string[] | undefined;
  if (values.nodes !== undefined) {
    nodes = values.nodes.split(',').map((n) => n.trim());
    const bad = nodes.find((n) => !/^(node-)?\d+$/.test(n));
    if (bad !== undefined || nodes.length === 0)
      throw new UsageError(
        `--nodes must list node numbers or names, e.g. 1,3 or node-1,node-3; got "${values.nodes}"`,
      );
    nodes = [...new Set(nodes.map((n) => (n.startsWith('node-') ? n : `node-${n}`)))];
  }
  const flags: ChaosFlags = {
    target,
    durationMs,
    everyMs,
    restartAfterMs: durationFlag('restart-after', values['restart-after'], 2_000),
    rate: numberFlag('rate', values.rate, traffic && 'rate' in traffic ? traffic.rate : 20, 10_000),
    seed: integerFlag('seed', values.seed, randomInt(1, 2 ** 31), 0, 2 ** 32 - 1),
    settleMs: durationFlag('settle', values.settle, 20_000),
    json: values.json,
    verbose: values.verbose,
    portOffset: integerFlag('port-offset', values['port-offset'], 0, 0, 50_000),
    edge: urlFlag('edge', values.edge, env.LIMITER_URL ?? `http://127.0.0.1:${env.LIMITER_PORT || 8080}`),
    balancer: urlFlag(
      'balancer',
      values.balancer,
      env.BALANCER_URL ?? `http://127.0.0.1:${env.BALANCER_PORT || 8081}`,
    ),
    token: values.token ?? (env.ADMIN_TOKEN || 'lab-admin'),
  };
  if (nodes) flags.nodes = nodes;
  if (values['max-down'] !== undefined)
    flags.maxDown = integerFlag('max-down', values['max-down'], 1, 1, 1_000);
  if (target === 'local' && (values.edge || values.balancer))
    throw new UsageError(
      '--edge and --balancer are for --target compose (the local target starts its own lab)',
    );
  if (target === 'compose' && values['port-offset'] !== undefined)
    throw new UsageError('--port-offset is for --target local (the compose lab publishes its own ports)');
  return flags;
}

/** The killable nodes and the most nodes out at once, checked against the target's nodes. */
export function resolveNodes(
  flags: Pick<ChaosFlags, 'nodes' | 'maxDown'>,
  all: readonly string[],
): { killable: string[]; maxDown: number } {
  const killable = flags.nodes ?? [...all];
  const unknown = killable.filter((n) => !all.includes(n));
  if (unknown.length > 0)
    throw new UsageError(`--nodes: no ${unknown.join(', ')} in this lab (it has ${all.join(', ')})`);
  const maxDown = flags.maxDown ?? Math.max(0, all.length - 1);
  if (maxDown > all.length)
    throw new UsageError(`--max-down ${maxDown}: this lab has only ${all.length} nodes`);
  return { killable, maxDown };
}

async function main(): Promise<number> {
  let parsed: ChaosFlags | 'help';
  try {
    parsed = parseChaosArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}\n${USAGE}`);
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const flags = parsed;
  // Progress goes to stderr with --json, so stdout is the report alone.
  const progress = flags.json ? process.stderr : process.stdout;
  const log = (line: string) => progress.write(`chaos: ${line}\n`);
  const interrupt = interruptSignal({ repeatGraceMs: 2_000 });
  const stop = new AbortController();
  const signal = AbortSignal.any([interrupt.signal, stop.signal]);
  let target: ChaosTarget | undefined;
  try {
    if (flags.target === 'local') {
      log(`starting a local lab${flags.portOffset ? ` (ports + ${flags.portOffset})` : ''} ...`);
      target = await localTarget({
        offset: flags.portOffset,
        adminToken: flags.token,
        ...(flags.verbose
          ? { output: (name: string, line: string) => progress.write(`${name} │ ${line}\n`) }
          : {}),
        onUnexpectedExit: (name, how) => {
          log(`${name} exited (${how}) without being killed by chaos: stopping the run`);
          stop.abort();
        },
      });
    } else {
      target = await composeTarget({ edge: flags.edge, balancer: flags.balancer, token: flags.token });
    }
    const { killable, maxDown } = resolveNodes(
      flags,
      target.nodes.map((n) => n.name),
    );
    log(
      `${target.kind} lab: edge ${target.edge}, balancer ${target.balancer}; ${flags.durationMs / 1000}s, ` +
        `a kill every ${flags.everyMs / 1000}s among ${killable.join(',')}, seed ${flags.seed} (Ctrl-C stops early)`,
    );
    const report = await runChaos({
      target,
      durationMs: flags.durationMs,
      everyMs: flags.everyMs,
      restartAfterMs: flags.restartAfterMs,
      rate: flags.rate,
      seed: flags.seed,
      killable,
      maxDown,
      settleMs: flags.settleMs,
      signal,
      log,
    });
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${renderReport(report)}\n`);
    if (report.aborted) return 130;
    return report.requests.failed === 0 && report.allBack ? 0 : 1;
  } finally {
    interrupt.dispose();
    if (target?.kind === 'local') log('stopping the local lab ...');
    await target?.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCli('chaos', main);
}
