/**
 * Shared by the k6 scripts: the scenario data file (`scenarios.json`, also read by the Node
 * traffic engine in services/traffic/), k6 scenarios built from it, one request per actor, and
 * the end-of-test summary (stdout + `results/<script>.json`).
 *
 * Environment (all optional):
 * - `LAB_TARGET` (the edge, default http://127.0.0.1:8080), `LAB_BALANCER` (default http://127.0.0.1:8081);
 * - `DURATION` overrides every scenario's duration; `<ACTOR>_RATE` (e.g. `BAD_ACTOR_RATE=10000`,
 *   `GOOD_USER_RATE=5`) overrides one actor's rate; `RESULTS_DIR` (default `results`).
 *
 * Every response `send()` gets is checked against the standard rate-limit fields
 * (`checkFields`, predicates in `ratelimit-fields.ts`); every script spreads
 * `FIELD_THRESHOLDS` into its thresholds, so one malformed or missing field fails the run.
 */
import { check } from 'k6';
import exec from 'k6/execution';
import http, { type RefinedResponse, type ResponseType } from 'k6/http';
import type { Options, Scenario } from 'k6/options';
import { fieldChecks } from './ratelimit-fields.ts';

export interface Actor {
  key?: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: Record<string, string>;
  keySpace?: number;
  /** Backs off on RateLimit and Retry-After (loadtests/polite.ts). */
  polite?: boolean;
}

export interface ActorTraffic {
  rate?: number;
  startTime?: string;
}

export interface ScenarioSpec {
  target: 'edge' | 'balancer';
  duration: string;
  traffic: Record<string, ActorTraffic>;
}

export interface ScenarioFile {
  actors: Record<string, Actor>;
  scenarios: Record<string, ScenarioSpec>;
}

/** Read once per VU at init time (k6 `open` is relative to this script's folder). */
export const data = JSON.parse(open('./scenarios.json')) as ScenarioFile;

export function scenario(name: string): ScenarioSpec {
  const spec = data.scenarios[name];
  if (!spec) throw new Error(`loadtests/scenarios.json has no scenario "${name}"`);
  return spec;
}

export function baseUrl(target: ScenarioSpec['target']): string {
  return target === 'edge'
    ? __ENV.LAB_TARGET || 'http://127.0.0.1:8080'
    : __ENV.LAB_BALANCER || 'http://127.0.0.1:8081';
}

/** The actor's rate: `<ACTOR>_RATE` from the environment, else the data file's. */
export function rateOf(actor: string, traffic: ActorTraffic): number {
  const fromEnv = __ENV[`${actor.toUpperCase()}_RATE`];
  const rate = fromEnv ? Number(fromEnv) : (traffic.rate ?? 0);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 20_000) {
    throw new Error(
      `${actor.toUpperCase()}_RATE must be a number of requests/s from 1 to 20000, got "${fromEnv}"`,
    );
  }
  return Math.round(rate);
}

/**
 * One open-model (constant-arrival-rate) k6 scenario per actor of a data-file scenario,
 * named after the actor, so every sample is tagged `scenario=<actor>` (good_user, bad_actor).
 */
export function scenariosFor(name: string): NonNullable<Options['scenarios']> {
  const spec = scenario(name);
  const duration = __ENV.DURATION || spec.duration;
  const result: Record<string, Scenario> = {};
  for (const [actor, traffic] of Object.entries(spec.traffic)) {
    if (!data.actors[actor]) throw new Error(`scenario "${name}" names an unknown actor "${actor}"`);
    const rate = rateOf(actor, traffic);
    result[actor] = {
      executor: 'constant-arrival-rate',
      exec: 'actor',
      rate,
      timeUnit: '1s',
      duration,
      startTime: traffic.startTime ?? '0s',
      // Enough VUs for the rate at ~100 ms per request, bounded so a typo cannot fork a thousand.
      preAllocatedVUs: Math.min(Math.max(2, Math.ceil(rate / 10)), 200),
      maxVUs: Math.min(Math.max(10, Math.ceil(rate / 2)), 1000),
      env: { ACTOR: actor, TARGET: baseUrl(spec.target), FIELDS: fieldsFor(spec.target) },
      tags: { actor },
    };
  }
  return result;
}

/**
 * Whether the rate-limit fields must be on every answer: through the edge, yes (the limiter
 * adds them to every answer of a limited client); straight to the balancer, they may be
 * absent but must be well-formed if present. An exempt client gets `optional` too.
 */
export function fieldsFor(target: ScenarioSpec['target'], exempt = false): 'required' | 'optional' {
  return target === 'edge' && !exempt ? 'required' : 'optional';
}

/**
 * Checks tagged `checks_of: fields` (the standard rate-limit fields) or `checks_of: outcome`
 * (what the script expects of the answer), so thresholds can hold each to its own rate.
 */
export const FIELD_THRESHOLDS: Record<string, string[]> = { 'checks{checks_of:fields}': ['rate==1'] };

/** The three standard-field checks on one answer (the scenario's `FIELDS` says if required). */
export function checkFields(res: RefinedResponse<ResponseType>): boolean {
  return check(res, fieldChecks(__ENV.FIELDS !== 'optional'), { checks_of: 'fields' });
}

/** A script's own expectation of an answer, kept apart from the field checks in thresholds. */
export function outcome<T>(value: T, name: string, predicate: (value: T) => boolean): boolean {
  return check(value, { [name]: predicate }, { checks_of: 'outcome' });
}

/** 429 is an expected answer for actors that are meant to be throttled. */
export const expectThrottling = http.expectedStatuses({ min: 200, max: 399 }, 429);

/** Sends the current scenario's actor's request once. */
export function send(expected?: ReturnType<typeof http.expectedStatuses>): RefinedResponse<ResponseType> {
  const name = __ENV.ACTOR ?? exec.scenario.name;
  const actor = data.actors[name];
  if (!actor) throw new Error(`no actor "${name}" in loadtests/scenarios.json`);
  const n = String(exec.scenario.iterationInTest % (actor.keySpace ?? 100));
  const fill = (text: string) => text.split('{n}').join(n);
  const headers: Record<string, string> = {};
  if (actor.key) headers['X-API-Key'] = actor.key;
  let body: string | null = null;
  if (actor.body) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(Object.fromEntries(Object.entries(actor.body).map(([k, v]) => [k, fill(v)])));
  }
  const path = fill(actor.path);
  const res = http.request(actor.method, `${__ENV.TARGET}${path}`, body, {
    headers,
    timeout: '10s',
    // Metric labels stay bounded: the route template, not the filled path.
    tags: { name: `${actor.method} ${actor.path}` },
    ...(expected ? { responseCallback: expected } : {}),
  });
  checkFields(res);
  return res;
}

interface MetricSummary {
  values: Record<string, number>;
}

/** Stdout lines for the metrics that matter here, and the full JSON in results/<script>.json. */
export function summary(
  script: string,
  data: { metrics: Record<string, MetricSummary> },
): Record<string, string> {
  const lines = [`\n${script}: summary (full data in loadtests/results/${script}.json)`];
  const names = Object.keys(data.metrics)
    .filter((m) => /^(http_reqs|http_req_failed|http_req_duration|checks|lab_)/.test(m))
    .sort();
  for (const metric of names) {
    const values = (data.metrics[metric] as MetricSummary).values;
    const shown = Object.entries(values)
      .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(metric.includes('duration') ? 1 : 4)}`)
      .join(' ');
    lines.push(`  ${metric.padEnd(48)} ${shown}`);
  }
  const dir = __ENV.RESULTS_DIR || 'results';
  return { stdout: `${lines.join('\n')}\n`, [`${dir}/${script}.json`]: JSON.stringify(data, null, 2) };
}
