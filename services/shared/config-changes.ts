/**
 * @module
 * Every live config change as a metric, so Grafana can draw it as a mark on the timeline
 * from Prometheus alone (no write access to Grafana needed).
 *
 * `PUT /admin/config` (admin.ts) reads the service's named settings before and after an
 * update, diffs them, and hands the changed ones here:
 * - `lab_config_generation`: how many updates changed something since the process started;
 * - `lab_config_change_timestamp_seconds{setting, from, to}`: when `setting` last went from
 *   `from` to `to` (Unix seconds). The board's annotation queries read it with "series value
 *   as timestamp", so each change is one mark at the moment it was applied, with a text
 *   built from the labels ("balancer: strategy round-robin → least-connections").
 *
 * Labels stay bounded: values are cut to {@link MAX_VALUE_LENGTH} characters, only the
 * latest `perSetting` (from, to) pairs of each setting are kept, and at most `maxSeries`
 * in all (the oldest go first). A dropped series only stops being scraped: its samples
 * stay in Prometheus, so its mark stays on the timeline.
 */
import { Gauge, type Registry } from 'prom-client';

/** A service's settings as a learner names them, each with its value as text. */
export type Settings = Record<string, string>;

export interface SettingChange {
  setting: string;
  from: string;
  to: string;
}

/** The value of a setting that did not exist before (or no longer exists). */
export const ABSENT = 'none';
/** Longer label values are cut, with `…` at the end. */
export const MAX_VALUE_LENGTH = 64;

const label = (value: string) =>
  value.length <= MAX_VALUE_LENGTH ? value : `${value.slice(0, MAX_VALUE_LENGTH - 1)}…`;

/** The settings that differ, in a stable order (by setting name); absent ones read {@link ABSENT}. */
export function diffSettings(before: Settings, after: Settings): SettingChange[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changes: SettingChange[] = [];
  for (const setting of names) {
    const from = before[setting] ?? ABSENT;
    const to = after[setting] ?? ABSENT;
    if (from !== to) changes.push({ setting, from, to });
  }
  return changes;
}

/**
 * The fallback when a service names no settings: every scalar of its effective config
 * under its dotted path (`{a: {b: 1}}` → `{"a.b": "1"}`); arrays as JSON.
 */
export function flattenSettings(value: unknown, prefix = ''): Settings {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return prefix ? { [prefix]: typeof value === 'string' ? value : JSON.stringify(value) } : {};
  }
  const out: Settings = {};
  for (const [key, inner] of Object.entries(value)) {
    Object.assign(out, flattenSettings(inner, prefix ? `${prefix}.${key}` : key));
  }
  return out;
}

export interface ConfigChanges {
  /**
   * Records the changes one update applied, all at the same moment: `at` (ms; the
   * primary's clock when workers share the update, so every worker marks the same
   * second), else now; none → nothing.
   */
  record(changes: SettingChange[], at?: number): void;
  /** Updates that changed something since start-up (`lab_config_generation`). */
  readonly generation: number;
}

/**
 * @param registry - the service's registry (its `service` default label applies)
 * @param [options.now=Date.now] - the clock, in ms; tests inject one
 * @param [options.perSetting=3] - change series kept per setting
 * @param [options.maxSeries=64] - change series kept in all
 */
export function createConfigChanges(
  registry: Registry,
  {
    now = Date.now,
    perSetting = 3,
    maxSeries = 64,
  }: { now?: () => number; perSetting?: number; maxSeries?: number } = {},
): ConfigChanges {
  let generation = 0;
  /** Live series, oldest change first: `setting\0from\0to` → labels and time. */
  const series = new Map<string, { labels: SettingChange; at: number }>();

  new Gauge({
    name: 'lab_config_generation',
    help: 'Live config updates (PUT /admin/config) that changed at least one setting since the process started.',
    registers: [registry],
    // Every worker applies every update (workers.ts): the same value in each, never a sum.
    aggregator: 'max',
    collect() {
      this.set(generation);
    },
  });
  const changed = new Gauge({
    name: 'lab_config_change_timestamp_seconds',
    help: 'When a setting last changed from one value to another (Unix seconds); the board draws one mark per change.',
    labelNames: ['setting', 'from', 'to'] as const,
    registers: [registry],
    aggregator: 'max',
  });

  const drop = (key: string) => {
    const entry = series.get(key);
    if (!entry) return;
    changed.remove(entry.labels);
    series.delete(key);
  };

  return {
    get generation() {
      return generation;
    },
    record(changes, at = now()) {
      if (changes.length === 0) return;
      generation++;
      for (const change of changes) {
        const labels = { setting: label(change.setting), from: label(change.from), to: label(change.to) };
        const key = `${labels.setting}\0${labels.from}\0${labels.to}`;
        // Re-inserted, so the map stays ordered by the time of the latest change.
        series.delete(key);
        series.set(key, { labels, at });
        changed.set(labels, at / 1000);
        const same = [...series.entries()].filter(([, e]) => e.labels.setting === labels.setting);
        for (const [old] of same.slice(0, Math.max(0, same.length - perSetting))) drop(old);
      }
      for (const old of [...series.keys()].slice(0, Math.max(0, series.size - maxSeries))) drop(old);
    },
  };
}
