/**
 * @module
 * The scenario data file `loadtests/scenarios.json`, shared with the k6 scripts: typed,
 * validated once when loaded (a bad file names the field), and turned into requests.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { nodeUpdate } from '../node/config.js';
import { parseDuration } from '../shared/duration.js';
import type { ArrivalPattern } from './arrivals.js';

const duration = z.string().refine(
  (text) => {
    try {
      parseDuration(text, 1000);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'a duration like 500ms, 15s or 2m' },
);

const actor = z.object({
  /** Sent as `X-API-Key`; absent = anonymous (the limiter keys by IP). */
  key: z.string().min(1).optional(),
  method: z.enum(['GET', 'POST', 'PUT', 'DELETE']),
  path: z.string().startsWith('/'),
  body: z.record(z.string(), z.string()).optional(),
  /** `{n}` is replaced by the iteration number modulo this. */
  keySpace: z.number().int().positive().default(100),
  /** Backs off on `RateLimit` and `Retry-After` (`loadtests/backoff.ts`) instead of sending regardless. */
  polite: z.boolean().optional(),
});

const traffic = z.record(
  z.string(),
  z.union([
    z.object({ rate: z.number().min(0), startTime: duration.optional() }),
    z.object({
      bursts: z.object({ every: duration, size: z.number().int().positive() }),
      startTime: duration.optional(),
    }),
  ]),
);

const target = z.enum(['edge', 'balancer']);

const policyOverrides = z.record(z.string(), z.record(z.string(), z.unknown()));

/** One incident: two phases of `traffic`, under `policies.before`, then live-fixed to `policies.after`. */
const incident = z.object({
  target,
  phase: duration,
  timeout: duration,
  maxInFlight: z.number().int().positive(),
  /** Node settings (their `PUT /admin/config`, e.g. `loadFactor`) for the incident's length. */
  nodes: nodeUpdate.optional(),
  traffic,
  /** The actors whose before/after figures tell the story (the verdict line). */
  watch: z.array(z.string()).min(1),
  policies: z.object({ before: policyOverrides, after: policyOverrides }),
});

export const scenarioFile = z.object({
  actors: z.record(z.string(), actor),
  scenarios: z.record(z.string(), z.object({ target, duration, window: duration.optional(), traffic })),
  incidents: z.record(z.string().regex(/^[a-z0-9_]+$/, 'an incident name in snake_case'), incident),
});

export type ScenarioFile = z.infer<typeof scenarioFile>;
export type Actor = z.infer<typeof actor>;
export type Traffic = z.infer<typeof traffic>;
export type Incident = z.infer<typeof incident>;

export const SCENARIO_FILE = new URL('../../loadtests/scenarios.json', import.meta.url);

/**
 * Reads and validates the scenario file.
 * @throws Error naming the file and every invalid field.
 */
export function loadScenarios(path: string | URL = SCENARIO_FILE): ScenarioFile {
  const parsed = scenarioFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${String(path)} is invalid: ${issues}`);
  }
  const { actors, scenarios, incidents } = parsed.data;
  for (const [name, scenario] of Object.entries(scenarios)) {
    for (const actorName of Object.keys(scenario.traffic)) {
      if (!actors[actorName]) throw new Error(`scenario ${name} uses unknown actor "${actorName}"`);
    }
  }
  for (const [name, spec] of Object.entries(incidents)) {
    for (const actorName of Object.keys(spec.traffic)) {
      if (!actors[actorName]) throw new Error(`incident ${name} uses unknown actor "${actorName}"`);
    }
    for (const actorName of spec.watch) {
      if (!(actorName in spec.traffic))
        throw new Error(`incident ${name} watches "${actorName}", which is not in its traffic`);
    }
  }
  return parsed.data;
}

/**
 * The incident a command line names: `noisy-customer` or `noisy_customer`.
 * @throws Error listing the incidents of the file.
 */
export function incidentNamed(file: ScenarioFile, name: string): [string, Incident] {
  const key = name.replaceAll('-', '_');
  const spec = file.incidents[key];
  if (!spec)
    throw new Error(
      `no incident "${name}" in loadtests/scenarios.json; known: ${incidentNames(file).join(', ')}`,
    );
  return [key, spec];
}

/** The incidents' names as commands take them (`noisy-customer`). */
export function incidentNames(file: ScenarioFile): string[] {
  return Object.keys(file.incidents).map((key) => key.replaceAll('_', '-'));
}

/** One traffic entry as an arrival pattern. */
export function patternOf(entry: Traffic[string]): ArrivalPattern {
  const startMs = entry.startTime ? parseDuration(entry.startTime, 1000) : 0;
  if ('bursts' in entry) {
    return {
      kind: 'bursts',
      everyMs: parseDuration(entry.bursts.every, 1000),
      size: entry.bursts.size,
      startMs,
    };
  }
  return { kind: 'rate', rate: entry.rate, startMs };
}

/** The request an actor sends on iteration `n`. */
export interface RequestSpec {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Builds iteration `n`'s request: `{n}` substituted, `X-API-Key` set when the actor has a key. */
export function requestFor(spec: Actor, n: number, key = spec.key): RequestSpec {
  const fill = (text: string) => text.replaceAll('{n}', String(n % spec.keySpace));
  const headers: Record<string, string> = {};
  if (key) headers['x-api-key'] = key;
  if (!spec.body) return { method: spec.method, path: fill(spec.path), headers };
  headers['content-type'] = 'application/json';
  const body = Object.fromEntries(Object.entries(spec.body).map(([k, v]) => [k, fill(v)]));
  return { method: spec.method, path: fill(spec.path), headers, body: JSON.stringify(body) };
}
