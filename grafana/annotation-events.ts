/**
 * @module
 * How Grafana turns a Prometheus annotation query into events, reproduced step by step so
 * a test can check the board's annotation queries against a real Prometheus without a
 * Grafana. Each function names the Grafana source it mirrors (grafana/grafana, main branch):
 *
 * 1. `annotationStep` — the query's step: the annotation's `step` is the query's `interval`
 *    (packages/grafana-prometheus/src/annotations.ts `prepareAnnotation`), the minimum
 *    interval of pkg/promlib/models/query.go `calculatePrometheusInterval`; the request's
 *    `maxDataPoints` is the window width in pixels
 *    (public/app/features/annotations/executeAnnotationQuery.ts).
 * 2. `alignRange` — start and end rounded down to a multiple of the step
 *    (pkg/promlib/models/query.go `AlignTimeRange`), then `query_range`.
 * 3. `toFrames` — one data frame per series: a time field (ms) and a value field carrying
 *    the series' labels (pkg/promlib/converter/prom.go); the first frame's
 *    `executedQueryString` ends in `Step: <Go duration>` (pkg/promlib/querydata/response.go).
 * 4. `processEvents` — packages/grafana-prometheus/src/annotations.ts `processEvents`:
 *    the step is read back from "Step: …"; per frame, each sample becomes (time, value), or
 *    (floor(value), 1) with `useValueForTime`; samples with value ≤ 0 are dropped; the rest,
 *    in order, are merged into one event while each is no more than a step after the
 *    previous one's end, else a new event starts. Title and text are the formats rendered
 *    with the frame's labels (packages/grafana-data/src/utils/legend.ts
 *    `renderLegendFormat`), tags the values of the labels named in `tagKeys`.
 */

export interface AnnotationOptions {
  step: string;
  useValueForTime: boolean;
  titleFormat: string;
  textFormat: string;
  tagKeys: string;
}

/** One series of a Prometheus `query_range` answer (`resultType: "matrix"`). */
export interface MatrixSeries {
  metric: Record<string, string>;
  /** `[unix seconds, "value"]` */
  values: [number, string][];
}

export interface Frame {
  /** The series' labels, on the value field. */
  labels: Record<string, string>;
  /** Sample times, ms. */
  times: number[];
  values: number[];
  /** Set on the first frame only, as Grafana's backend does. */
  executedQueryString?: string;
}

export interface AnnotationEvent {
  time: number;
  timeEnd: number;
  title: string;
  text: string;
  tags: string[];
}

/** Grafana's interval units (rangeUtil), in ms. */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  M: 2_592_000_000,
  y: 31_536_000_000,
};

/** `2s`, `1m`, `500ms` → ms (the annotation's `step` field). */
export function parseInterval(interval: string): number {
  const match = /^(\d+)(ms|[smhdwMy])$/.exec(interval.trim());
  if (!match) throw new Error(`not a Grafana interval: "${interval}"`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Go's `time.Duration.String()` for whole seconds: `2s`, `1m0s`, `1h2m3s`. */
export function goDuration(ms: number): string {
  if (ms % 1000 !== 0 || ms <= 0) throw new Error(`step ${ms} ms: only whole seconds are modelled`);
  let s = ms / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * The step Grafana's backend runs the query with. Only the common case is modelled: the
 * annotation's `step` wins because the window is short enough (range / maxDataPoints and
 * range / 11000, the "safe" resolution, both below it); otherwise Grafana rounds a larger
 * interval to a "nice" one, which this model does not reproduce, so it refuses.
 * @param [maxDataPoints=1920] - the browser window width in pixels
 */
export function annotationStep(step: string, rangeMs: number, maxDataPoints = 1920): number {
  const min = parseInterval(step);
  if (rangeMs / maxDataPoints > min || rangeMs / 11_000 > min) {
    throw new Error(`a ${rangeMs} ms window at ${maxDataPoints} px gives a step above ${step}: not modelled`);
  }
  return min;
}

/** pkg/promlib `AlignTimeRange` (UTC): start and end rounded down to a multiple of the step. */
export function alignRange(startMs: number, endMs: number, stepMs: number) {
  return {
    start: Math.floor(startMs / stepMs) * stepMs,
    end: Math.floor(endMs / stepMs) * stepMs,
  };
}

/** What Grafana's Prometheus backend makes of a matrix answer: one frame per series. */
export function toFrames(result: MatrixSeries[], stepMs: number, expr: string): Frame[] {
  return result.map((series, i) => ({
    labels: { ...series.metric },
    times: series.values.map(([t]) => Math.round(t * 1000)),
    values: series.values.map(([, v]) => Number.parseFloat(v)),
    ...(i === 0 ? { executedQueryString: `Expr: ${expr}\nStep: ${goDuration(stepMs)}` } : {}),
  }));
}

/**
 * `renderLegendFormat` of packages/grafana-data/src/utils/legend.ts (the current,
 * indexOf-based version): each `{{ name }}` whose label exists is replaced by its value; an
 * unknown one is left as it is. (The older regex version printed the bare name instead;
 * the two agree whenever every label named is present, which the tests require.)
 */
export function renderLegendFormat(pattern: string, labels: Record<string, string>): string {
  let out = pattern;
  let idx = out ? out.indexOf('{{') : -1;
  while (idx >= 0) {
    const edx = out.indexOf('}}', idx + 1);
    if (idx > edx) return out;
    const key = out.substring(idx + 2, edx).trim();
    const value = labels[key];
    if (value != null) out = out.substring(0, idx) + value + out.substring(edx + 2);
    idx = out.indexOf('{{', idx + 2);
  }
  return out;
}

/** `intervalToSeconds` of what the regex `/Step:\s*([\d\w]+)/` finds: the first number+unit. */
function stepFromExecutedQuery(frames: Frame[]): number {
  const stepValue = /Step:\s*([\d\w]+)/.exec(frames[0]?.executedQueryString ?? '')?.[1] ?? '60s';
  const first = /(\d+)(ms|[smhdwMy])/.exec(stepValue);
  if (!first) throw new Error(`cannot read the step "${stepValue}"`);
  return Number(first[1]) * (UNIT_MS[first[2] as string] as number);
}

/** packages/grafana-prometheus/src/annotations.ts `processEvents`. */
export function processEvents(annotation: AnnotationOptions, frames: Frame[]): AnnotationEvent[] {
  if (frames.length === 0) return [];
  const step = stepFromExecutedQuery(frames);
  const tagKeys = annotation.tagKeys.split(',');
  const events: AnnotationEvent[] = [];
  for (const frame of frames) {
    const labels = frame.labels;
    const tags = Object.keys(labels)
      .filter((label) => tagKeys.includes(label))
      .map((label) => labels[label] as string);
    const active = frame.values
      .map((value, i) =>
        annotation.useValueForTime
          ? ([Math.floor(value), 1] as const)
          : ([Math.floor(frame.times[i] as number), value] as const),
      )
      .filter(([, value]) => value > 0)
      .map(([time]) => time);
    let latest: AnnotationEvent | undefined;
    for (const timestamp of active) {
      if (latest && latest.timeEnd + step >= timestamp) {
        latest.timeEnd = timestamp;
        continue;
      }
      if (latest) events.push(latest);
      latest = {
        time: timestamp,
        timeEnd: timestamp,
        title: renderLegendFormat(annotation.titleFormat, labels),
        tags,
        text: renderLegendFormat(annotation.textFormat, labels),
      };
    }
    if (latest) {
      latest.timeEnd = active[active.length - 1] as number;
      events.push(latest);
    }
  }
  return events;
}
