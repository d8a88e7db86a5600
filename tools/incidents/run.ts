/**
 * @module
 * An incident of `loadtests/scenarios.json` as a two-phase experiment through the edge
 * limiter, measured by the shared traffic engine (the Node fallback of the k6 script
 * `loadtests/incident.ts`):
 *
 * 1. **before**: the policies that caused the incident are applied live, traffic runs;
 * 2. the fix is applied live (`PUT /admin/config {policies}`), the queue drains;
 * 3. **after**: the same traffic runs again.
 *
 * Everything changed (policies, node load) is put back as it was at the end, also on Ctrl-C.
 * Rates, keys, phases and policies come from `loadtests/scenarios.json` ("incidents").
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../services/shared/duration.js';
import { runTraffic, type TrafficActor } from '../../services/traffic/engine.js';
import {
  incidentNamed,
  loadScenarios,
  patternOf,
  requestFor,
  type ScenarioFile,
  type Traffic,
} from '../../services/traffic/scenarios.js';
import { type ActorSummary, Recorder } from '../../services/traffic/stats.js';
import { getConfig, getPolicies, putConfig, withClients } from './admin.js';

export interface IncidentOptions {
  /** The edge limiter, e.g. http://127.0.0.1:8080. */
  limiter: string;
  token: string;
  /** The nodes' own URLs (their admin API), for an incident's node settings (e.g. CPU load). */
  nodes: string[];
  /** Overrides the phase length from the scenario file. */
  phaseMs?: number;
  /** Multiplies every rate and burst size (e.g. 0.5 on a busy machine). */
  scale?: number;
  /** Longest wait after the fix for the backlog the flood left on the nodes to drain. [30000] */
  settleMs?: number;
  signal?: AbortSignal;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface IncidentResult {
  /** The incident's key in the scenario file (`noisy_customer`). */
  name: string;
  /** The actors whose figures tell the story. */
  watch: readonly string[];
  before: ActorSummary[];
  after: ActorSummary[];
  /** Set when Ctrl-C cut it short. */
  aborted: boolean;
}

/** The actors of a scenario's `traffic`, every rate (or burst size) multiplied by `scale`. */
export function actorsFor(file: ScenarioFile, traffic: Traffic, scale = 1): TrafficActor[] {
  return Object.entries(traffic).map(([name, entry]) => {
    const actor = file.actors[name];
    if (!actor) throw new Error(`scenarios.json: incident traffic uses unknown actor "${name}"`);
    const pattern = patternOf(entry);
    const scaled =
      pattern.kind === 'rate'
        ? { ...pattern, rate: pattern.rate * scale }
        : { ...pattern, size: Math.max(1, Math.round(pattern.size * scale)) };
    return { name, pattern: scaled, request: (n: number) => requestFor(actor, n) };
  });
}

/**
 * Waits until the path through the edge answers promptly again (3 probes in a row of
 * `GET /health`, answered 200 within 250 ms), so the "after" phase does not measure the
 * queue the flood left behind on the nodes. Bounded by `maxMs`; false when it ran out.
 */
export async function settle(limiter: string, maxMs: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = performance.now() + maxMs;
  let streak = 0;
  while (performance.now() < deadline && !signal?.aborted) {
    const t0 = performance.now();
    try {
      const response = await fetch(`${limiter}/health`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      streak = response.status === 200 && performance.now() - t0 < 250 ? streak + 1 : 0;
    } catch {
      streak = 0;
    }
    if (streak >= 3) return true;
    await sleep(200);
  }
  return false;
}

/** @param named - `noisy-customer` or `noisy_customer` */
export async function runIncident(named: string, options: IncidentOptions): Promise<IncidentResult> {
  const file = loadScenarios();
  const [name, incident] = incidentNamed(file, named);
  const log = options.log ?? (() => {});
  const scale = options.scale ?? 1;
  const phaseMs = options.phaseMs ?? parseDuration(incident.phase, 1000);
  const timeoutMs = parseDuration(incident.timeout, 1000);
  const actors = actorsFor(file, incident.traffic, scale);
  const { limiter, token } = options;

  // Remember what we change, so it is all put back.
  const original = await getPolicies(limiter, token);
  const nodeSettings = incident.nodes;
  const nodeConfigs = new Map<string, Record<string, unknown>>();
  if (nodeSettings) {
    for (const node of options.nodes) {
      const config = await getConfig(node, token);
      nodeConfigs.set(node, Object.fromEntries(Object.keys(nodeSettings).map((key) => [key, config[key]])));
    }
  }

  const phase = async (label: string): Promise<ActorSummary[]> => {
    const recorder = new Recorder();
    for (const actor of actors) recorder.declare(actor.name);
    log(`${label}: ${(phaseMs / 1000).toFixed(0)}s of traffic…`);
    await runTraffic({
      target: limiter,
      actors,
      durationMs: phaseMs,
      timeoutMs,
      maxInFlight: incident.maxInFlight,
      ...(options.signal ? { signal: options.signal } : {}),
      onOutcome: (o) => recorder.record(o),
      onDrop: (actor) => recorder.drop(actor),
    });
    return recorder.actors().map((a) => recorder.summary(a));
  };

  let before: ActorSummary[] = [];
  let after: ActorSummary[] = [];
  try {
    if (nodeSettings && options.nodes.length === 0) {
      log(
        `nodes: not reachable from here, left as they are (set them first: ${JSON.stringify(nodeSettings)})`,
      );
    } else if (nodeSettings) {
      log(`nodes: ${JSON.stringify(nodeSettings)}`);
      for (const node of options.nodes) await putConfig(node, token, nodeSettings);
    }
    log(`limiter: ${JSON.stringify(incident.policies.before)}`);
    await putConfig(limiter, token, { policies: withClients(original, incident.policies.before) });
    before = await phase('before');
    if (!options.signal?.aborted) {
      log(`fix, live: ${JSON.stringify(incident.policies.after)}`);
      await putConfig(limiter, token, { policies: withClients(original, incident.policies.after) });
      log('waiting for the backlog the flood left on the nodes to drain…');
      const drained = await settle(limiter, options.settleMs ?? 30_000, options.signal);
      log(
        drained
          ? 'drained: the edge answers promptly again'
          : 'still slow after the settle time; measuring anyway',
      );
    }
    if (!options.signal?.aborted) after = await phase('after');
  } finally {
    log('restoring the policies and node load as they were');
    await putConfig(limiter, token, { policies: original }).catch((error) =>
      log(`restore failed: ${error.message}`),
    );
    for (const [node, config] of nodeConfigs) {
      await putConfig(node, token, config).catch((error) => log(`restore ${node} failed: ${error.message}`));
    }
  }
  return { name, watch: incident.watch, before, after, aborted: Boolean(options.signal?.aborted) };
}
