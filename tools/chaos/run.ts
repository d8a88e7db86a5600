/**
 * @module
 * One chaos run: steady idempotent traffic through the edge (the shared traffic engine), a
 * node SIGKILLed every `everyMs` (the victim drawn by `schedule.ts`), started again after
 * `restartAfterMs`, the balancer's view polled to time each outage, and at the end (or on
 * abort) every killed node started again and awaited, then the report.
 *
 * A node is "out" from its kill until the balancer reports it healthy after its restart;
 * at most `maxDown` nodes are out at once, so by default one always serves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { seeded } from '../../services/balancer/strategies/seeded.js';
import { runTraffic } from '../../services/traffic/engine.js';
import { loadScenarios, requestFor } from '../../services/traffic/scenarios.js';
import { type BalancerInfo, fetchBalancerState } from '../viz/balancer-info.js';
import { type ChaosReport, type Fault, summarize } from './report.js';
import { killTimes, pickVictim } from './schedule.js';
import type { ChaosNode, ChaosTarget } from './target.js';

export interface ChaosOptions {
  target: ChaosTarget;
  durationMs: number;
  everyMs: number;
  restartAfterMs: number;
  /** Requests per second through the edge. */
  rate: number;
  seed: number;
  /** Names of the nodes that may be killed. */
  killable: string[];
  /** Most nodes out at once. */
  maxDown: number;
  /** After the run, how long to wait for every node to be healthy in the balancer again. */
  settleMs: number;
  /** Stop early (Ctrl-C): restore every node, then report. */
  signal?: AbortSignal;
  /** Progress lines (kills, restarts, ejections, failed requests). */
  log: (line: string) => void;
  /** How often the balancer's state is read. [250] */
  pollMs?: number;
}

/** An outage in progress: the fault being filled in, in ms from the start. */
interface Outage {
  node: ChaosNode;
  fault: Fault;
  killedAtMs: number;
  restartedAtMs?: number;
  timer?: NodeJS.Timeout;
  restarting?: Promise<void>;
}

/** Failed requests logged one by one; beyond this only counted. */
const LOGGED_FAILURES = 20;

function healthyIn(info: BalancerInfo, node: ChaosNode): boolean {
  for (const name of node.upstreams) {
    const up = info.upstreams[name]?.up;
    if (up !== undefined) return up;
  }
  return false; // not listed at all (the scaled balancer drops a stopped container from DNS)
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const { target, signal, log } = o;
  const pollMs = o.pollMs ?? 250;
  const actor = loadScenarios().actors.chaos_client;
  if (!actor) throw new Error('loadtests/scenarios.json has no "chaos_client" actor');
  if (actor.method !== 'GET') throw new Error('the chaos_client actor must send GET (idempotent) requests');
  const random = seeded(o.seed);
  const start = performance.now();
  const at = () => performance.now() - start;
  const stamp = (ms = at()) => `t=${(ms / 1000).toFixed(1).padStart(5)}s`;
  const byName = new Map(target.nodes.map((n) => [n.name, n]));
  const healthy: Record<string, boolean> = {};
  const out = new Map<string, Outage>();
  const faults: Fault[] = [];
  const skipped: { atS: number; reason: string }[] = [];
  const statuses: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let dropped = 0;
  let failuresLogged = 0;

  // ---- the balancer's view ------------------------------------------------------------
  let polling = true;
  const observe = (info: BalancerInfo, askedAt: number, answeredAt: number) => {
    for (const node of target.nodes) {
      const up = healthyIn(info, node);
      if (healthy[node.name] !== up && healthy[node.name] !== undefined)
        log(`${stamp(answeredAt)}  balancer: ${node.name} ${up ? 'healthy' : 'ejected'}`);
      healthy[node.name] = up;
      const outage = out.get(node.name);
      if (!outage) continue;
      if (!up && askedAt >= outage.killedAtMs) outage.fault.seenDown = true;
      // Back: healthy in a state read entirely after the restart began.
      if (up && outage.restartedAtMs !== undefined && askedAt >= outage.restartedAtMs) {
        outage.fault.backAtS = answeredAt / 1000;
        outage.fault.outS = (answeredAt - outage.killedAtMs) / 1000;
        out.delete(node.name);
        log(`${stamp(answeredAt)}  ${node.name} back, out ${(outage.fault.outS as number).toFixed(1)}s`);
      }
    }
  };
  const pollOnce = async () => {
    const askedAt = at();
    const info = await fetchBalancerState(target.balancer, target.token, 1_000);
    if (info) observe(info, askedAt, at());
    return info !== undefined;
  };
  if (!(await pollOnce())) throw new Error(`the balancer does not answer at ${target.balancer}`);
  const poller = (async () => {
    while (polling) {
      await sleep(pollMs);
      await pollOnce();
    }
  })();

  // ---- kills and restarts -------------------------------------------------------------
  const restart = (outage: Outage): Promise<void> => {
    clearTimeout(outage.timer);
    if (outage.restarting) return outage.restarting;
    outage.restartedAtMs = at();
    outage.fault.restartedAtS = outage.restartedAtMs / 1000;
    log(`${stamp()}  start ${outage.node.name}`);
    outage.restarting = target.start(outage.node).catch((error: Error) => {
      outage.fault.error = `start failed: ${error.message}`;
      log(`${stamp()}  ${outage.node.name}: start failed: ${error.message}`);
    });
    return outage.restarting;
  };

  const kills = (async () => {
    for (const time of killTimes({ durationMs: o.durationMs, everyMs: o.everyMs })) {
      const wait = time - at();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, signal ? { signal } : undefined);
        } catch {
          return; // aborted
        }
      }
      if (signal?.aborted) return;
      const pick = pickVictim(o.killable, new Set(out.keys()), o.maxDown, random);
      if ('skip' in pick) {
        skipped.push({ atS: at() / 1000, reason: pick.skip });
        log(`${stamp()}  no kill: ${pick.skip}`);
        continue;
      }
      const node = byName.get(pick.node) as ChaosNode;
      const killedAtMs = at();
      const fault: Fault = {
        node: node.name,
        killedAtS: killedAtMs / 1000,
        restartedAtS: null,
        backAtS: null,
        outS: null,
        seenDown: false,
      };
      faults.push(fault);
      const outage: Outage = { node, fault, killedAtMs };
      out.set(node.name, outage);
      log(`${stamp(killedAtMs)}  kill ${node.name} (SIGKILL)`);
      try {
        await target.kill(node);
      } catch (error) {
        fault.error = `kill failed: ${(error as Error).message}`;
        log(`${stamp()}  ${node.name}: kill failed: ${(error as Error).message}`);
      }
      outage.timer = setTimeout(
        () => void restart(outage),
        Math.max(0, killedAtMs + o.restartAfterMs - at()),
      );
    }
  })();

  // ---- traffic --------------------------------------------------------------------------
  const traffic = await runTraffic({
    target: target.edge,
    durationMs: o.durationMs,
    maxInFlight: 200,
    timeoutMs: 5_000,
    graceMs: 5_000,
    ...(signal ? { signal } : {}),
    actors: [
      { name: 'chaos', pattern: { kind: 'rate', rate: o.rate }, request: (n) => requestFor(actor, n) },
    ],
    onOutcome: (outcome) => {
      const kind = outcome.status === 0 ? (outcome.error ?? 'error') : String(outcome.status);
      statuses[kind] = (statuses[kind] ?? 0) + 1;
      latenciesMs.push(outcome.latencyMs);
      const failed = !(outcome.status >= 200 && outcome.status < 400);
      if (failed && failuresLogged++ < LOGGED_FAILURES) log(`${stamp()}  request failed: ${kind}`);
    },
    onDrop: () => {
      dropped += 1;
    },
  });
  await kills;
  const elapsedMs = at();

  // ---- restore and settle ---------------------------------------------------------------
  await Promise.all([...out.values()].map((outage) => restart(outage)));
  const settleUntil = at() + o.settleMs;
  while (at() < settleUntil && (out.size > 0 || target.nodes.some((n) => healthy[n.name] !== true))) {
    await sleep(pollMs);
  }
  polling = false;
  await poller;
  await pollOnce();
  for (const outage of out.values()) {
    log(`${stamp()}  ${outage.node.name} is NOT back after ${o.settleMs / 1000}s`);
  }

  return summarize(
    {
      target: target.kind,
      seed: o.seed,
      settings: {
        durationS: o.durationMs / 1000,
        everyS: o.everyMs / 1000,
        restartAfterS: o.restartAfterMs / 1000,
        rate: o.rate,
        killable: o.killable,
        maxDown: o.maxDown,
      },
      elapsedS: elapsedMs / 1000,
      aborted: traffic.reason === 'aborted' || Boolean(signal?.aborted),
      skipped,
    },
    {
      allNodes: target.nodes.map((n) => n.name),
      faults,
      healthyAtEnd: { ...healthy },
      statuses,
      dropped,
      latenciesMs,
    },
  );
}
