/**
 * `make incident-<name>`: the incident `INCIDENT` of loadtests/scenarios.json ("incidents";
 * `noisy-customer` or `noisy_customer`), in the same two phases as its Node fallback
 * (tools/incidents/run.ts): `k6 run -e INCIDENT=noisy-customer loadtests/incident.ts`.
 *
 * - `setup()` remembers the limiter's policies (and the nodes' settings), applies the
 *   incident's "before" policies (and its node settings, e.g. the CPU load);
 * - the actors run in the "before" phase; the `fix` scenario applies the "after" policies
 *   live at the end of it; after a settle pause the actors run again ("after");
 * - `teardown()` puts everything back; `handleSummary()` prints before/after figures per actor
 *   and a verdict line per watched actor.
 *
 * Environment: `INCIDENT` (required), `LAB_TARGET` (the limiter, default http://127.0.0.1:8080), `ADMIN_TOKEN`
 * (default lab-admin), `NODE_URLS` (the nodes' own URLs for their admin API; default
 * 127.0.0.1:5001–5003 when the target is local, else http://node-N:8080 as in compose),
 * `PHASE` (overrides the phase length, e.g. 10s).
 */
import http from 'k6/http';
import { Rate } from 'k6/metrics';
import type { Options, Scenario } from 'k6/options';
import { checkFields, data, FIELD_THRESHOLDS, fieldsFor, outcome, send } from './lib.ts';

interface TrafficEntry {
  rate?: number;
  bursts?: { every: string; size: number };
}

interface Incident {
  target: 'edge' | 'balancer';
  phase: string;
  timeout: string;
  maxInFlight: number;
  nodes?: Record<string, number>;
  traffic: Record<string, TrafficEntry>;
  watch: string[];
  policies: { before: Record<string, unknown>; after: Record<string, unknown> };
}

interface Policies {
  default?: unknown;
  clients?: Record<string, unknown>;
}

interface SetupData {
  policies: Policies;
  nodes: Record<string, unknown>;
}

const SETTLE_S = 3;
const incidents = (data as unknown as { incidents: Record<string, Incident> }).incidents;

/** 2xx share and 429 share, tagged per scenario (= actor_phase) by k6. */
const served = new Rate('incident_served');
const limited = new Rate('incident_limited');

const target = (): string => __ENV.LAB_TARGET || 'http://127.0.0.1:8080';
const token = (): string => __ENV.ADMIN_TOKEN || 'lab-admin';

function nodeUrls(): string[] {
  if (__ENV.NODE_URLS) return __ENV.NODE_URLS.split(',').map((u) => u.trim());
  const local = /127\.0\.0\.1|localhost/.test(target());
  return [1, 2, 3].map((n) => (local ? `http://127.0.0.1:${5000 + n}` : `http://node-${n}:8080`));
}

function seconds(duration: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(duration);
  if (!match) throw new Error(`bad duration "${duration}" in scenarios.json`);
  const value = Number(match[1]);
  return match[2] === 'ms' ? value / 1000 : match[2] === 'm' ? value * 60 : value;
}

/** The incident `INCIDENT` names (`-` for `_`), with its key in the data file. */
function named(): { name: string; spec: Incident } {
  const known = Object.keys(incidents).map((key) => key.replace(/_/g, '-'));
  const given = __ENV.INCIDENT;
  if (!given) throw new Error(`INCIDENT is not set: -e INCIDENT=<${known.join('|')}>`);
  const name = given.replace(/-/g, '_');
  const spec = incidents[name];
  if (!spec)
    throw new Error(
      `INCIDENT=${given}: loadtests/scenarios.json has no such incident (known: ${known.join(', ')})`,
    );
  return { name, spec };
}

const { name: NAME, spec: SPEC } = named();

function phaseSeconds(spec: Incident): number {
  return seconds(__ENV.PHASE || spec.phase);
}

function admin(method: 'GET' | 'PUT', url: string, body?: unknown): unknown {
  const res = http.request(method, `${url}/admin/config`, body === undefined ? null : JSON.stringify(body), {
    headers: { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json' },
    timeout: '5s',
    tags: { name: 'admin' },
  });
  if (res.status !== 200) {
    throw new Error(
      `${method} ${url}/admin/config: ${res.status} ${String(res.body).slice(0, 300)} (ADMIN_TOKEN?)`,
    );
  }
  return res.json();
}

/** k6 scenarios: every actor in both phases, plus the one-shot live fix between them. */
function incidentOptions(spec: Incident): Options {
  const phase = phaseSeconds(spec);
  const scenarios: Record<string, Scenario> = {};
  // RateLimit-Policy and RateLimit on every answer (optional for a client exempt in that phase).
  const thresholds: Record<string, string[]> = { ...FIELD_THRESHOLDS };
  for (const [label, start] of [
    ['before', 0],
    ['after', phase + SETTLE_S],
  ] as const) {
    for (const [actor, entry] of Object.entries(spec.traffic)) {
      const key = `${actor}_${label}`;
      const apiKey = data.actors[actor]?.key ?? '';
      const policy = spec.policies[label][apiKey] as { exempt?: boolean } | undefined;
      const env = {
        ACTOR: actor,
        TARGET: target(),
        PHASE_NAME: label,
        BURST: String(entry.bursts?.size ?? 0),
        FIELDS: fieldsFor(spec.target, policy?.exempt === true),
      };
      scenarios[key] = entry.bursts
        ? {
            executor: 'constant-arrival-rate',
            exec: 'burst',
            rate: 1,
            timeUnit: entry.bursts.every,
            duration: `${phase}s`,
            startTime: `${start}s`,
            preAllocatedVUs: 2,
            maxVUs: 4,
            env,
            tags: { actor, phase: label },
          }
        : {
            executor: 'constant-arrival-rate',
            exec: 'actor',
            rate: entry.rate ?? 1,
            timeUnit: '1s',
            duration: `${phase}s`,
            startTime: `${start}s`,
            preAllocatedVUs: Math.min(Math.max(2, Math.ceil((entry.rate ?? 1) / 5)), 200),
            maxVUs: spec.maxInFlight,
            env,
            tags: { actor, phase: label },
          };
      // Sub-metrics per scenario, so the summary has before/after figures (always-true thresholds).
      thresholds[`http_req_duration{scenario:${key}}`] = ['max>=0'];
      thresholds[`incident_served{scenario:${key}}`] = ['rate>=0'];
      thresholds[`incident_limited{scenario:${key}}`] = ['rate>=0'];
      thresholds[`http_reqs{scenario:${key}}`] = ['count>=0'];
    }
  }
  scenarios.fix = {
    executor: 'shared-iterations',
    exec: 'fix',
    vus: 1,
    iterations: 1,
    startTime: `${phase}s`,
    maxDuration: '30s',
  };
  return {
    scenarios,
    thresholds,
    summaryTrendStats: ['med', 'p(95)', 'max'],
    // A burst is really all at once (k6 sends at most 6 per host in parallel by default).
    batch: 100,
    batchPerHost: 100,
    setupTimeout: '30s',
    teardownTimeout: '30s',
  };
}

export const options = incidentOptions(SPEC);

export function setup(): SetupData {
  const spec = SPEC;
  const original = (admin('GET', target()) as { policies: Policies }).policies;
  const nodes: Record<string, unknown> = {};
  const settings = spec.nodes;
  if (settings) {
    for (const url of nodeUrls()) {
      const config = admin('GET', url) as Record<string, unknown>;
      nodes[url] = Object.fromEntries(Object.keys(settings).map((key) => [key, config[key]]));
      admin('PUT', url, settings);
    }
  }
  admin('PUT', target(), {
    policies: { ...original, clients: { ...original.clients, ...spec.policies.before } },
  });
  return { policies: original, nodes };
}

/** The `fix` scenario: the "after" policies, live. */
export function fix(saved: SetupData): void {
  const spec = SPEC;
  admin('PUT', target(), {
    policies: { ...saved.policies, clients: { ...saved.policies.clients, ...spec.policies.after } },
  });
}

export function teardown(saved: SetupData): void {
  admin('PUT', target(), { policies: saved.policies });
  for (const [url, config] of Object.entries(saved.nodes)) admin('PUT', url, config);
}

/** One request of the scenario's actor, counted as served / limited. */
export function actor(): void {
  const res = send(http.expectedStatuses({ min: 200, max: 399 }, 429));
  served.add(res.status >= 200 && res.status < 400);
  limited.add(res.status === 429);
}

/** A burst: `BURST` requests of the actor at once (the config client fetching everything). */
export function burst(): void {
  const size = Number(__ENV.BURST || '1');
  const actor = data.actors[__ENV.ACTOR ?? ''];
  if (!actor) throw new Error(`no actor ${__ENV.ACTOR}`);
  const headers: Record<string, string> = actor.key ? { 'X-API-Key': actor.key } : {};
  const responses = http.batch(
    Array.from({ length: size }, () => ({
      method: actor.method,
      url: `${__ENV.TARGET}${actor.path}`,
      params: { headers, timeout: '10s', tags: { name: `${actor.method} ${actor.path}` } },
    })),
  );
  for (const res of responses) {
    served.add(res.status >= 200 && res.status < 400);
    limited.add(res.status === 429);
    checkFields(res);
  }
  outcome(responses, 'every config fetch served', (all) => all.every((r) => r.status === 200));
}

interface Metric {
  values: Record<string, number>;
}

/** Before/after figures per actor, as a table and one parsable line each (like the Node fallback). */
export function handleSummary(summary: { metrics: Record<string, Metric> }): Record<string, string> {
  const name = NAME;
  const spec = SPEC;
  const lines = [
    `\nIncident ${name}: before and after the fix (full data in loadtests/results/incident-${name}.json)`,
  ];
  const get = (key: string, metric: string, stat: string) =>
    summary.metrics[`${metric}{scenario:${key}}`]?.values[stat] ?? 0;
  const pct = (rate: number) => `${(rate * 100).toFixed(1)}%`;
  for (const phase of ['before', 'after']) {
    for (const actor of Object.keys(spec.traffic)) {
      const key = `${actor}_${phase}`;
      const sent = get(key, 'http_reqs', 'count');
      const ok = get(key, 'incident_served', 'rate');
      const r429 = get(key, 'incident_limited', 'rate');
      lines.push(
        `incident=${name} phase=${phase} actor=${actor} sent=${sent} success_pct=${(ok * 100).toFixed(2)} ` +
          `429_pct=${(r429 * 100).toFixed(2)} error_pct=${((1 - ok - r429) * 100).toFixed(2)} ` +
          `p50_ms=${get(key, 'http_req_duration', 'med').toFixed(1)} p95_ms=${get(key, 'http_req_duration', 'p(95)').toFixed(1)}`,
      );
    }
  }
  // The actors the incident watches: what the fix changed for them (as the Node fallback's verdict).
  for (const actor of spec.watch) {
    const [before, after] = [`${actor}_before`, `${actor}_after`];
    lines.push(
      `verdict: ${actor}: success ${pct(get(before, 'incident_served', 'rate'))} → ${pct(get(after, 'incident_served', 'rate'))}, ` +
        `429s ${pct(get(before, 'incident_limited', 'rate'))} → ${pct(get(after, 'incident_limited', 'rate'))}, ` +
        `p95 ${get(before, 'http_req_duration', 'p(95)').toFixed(0)} ms → ${get(after, 'http_req_duration', 'p(95)').toFixed(0)} ms`,
    );
  }
  const dir = __ENV.RESULTS_DIR || 'results';
  return {
    stdout: `${lines.join('\n')}\n`,
    [`${dir}/incident-${name}.json`]: JSON.stringify(summary, null, 2),
  };
}
