/**
 * @module
 * The lab board's annotation queries: every change and fault as a mark on the timeline,
 * read from Prometheus alone (no write access to Grafana, no annotation API).
 *
 * - **Config changes** (`lab_config_change_timestamp_seconds{setting, from, to}`, written by
 *   `PUT /admin/config` on every service, see services/shared/config-changes.ts): the series
 *   value is the moment of the change, so these queries use Grafana's "series value as
 *   timestamp" (`useValueForTime`): every sample of one change carries the same time and
 *   Grafana merges them into a single mark at that moment, titled from the labels
 *   ("balancer: strategy round-robin → least-connections"). One query per role, so each
 *   has its own colour and can be switched off on its own.
 * - **Process down** (`up`): Prometheus writes `up = 0` for every failed scrape, so
 *   `up == bool 0` is 1 while a process is gone; Grafana merges consecutive non-zero samples
 *   (no more than a step apart) into one region, from the first failed scrape to the last
 *   (`make kill`/`make revive`, chaos, a crash).
 *
 * `target` (added in PromQL) names what changed: the node (`node-2`) for a node, else the job
 * (`balancer`, `limiter`). grafana/annotation-events.ts reproduces how Grafana turns these
 * queries' results into events; tests/annotations.test.ts runs them against a real Prometheus.
 */
import { type AnnotationQuery, AnnotationQueryBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';

export interface AnnotationSpec {
  name: string;
  iconColor: string;
  /** PromQL, evaluated by Grafana as a range query over the board's time range. */
  expr: string;
  /** Minimum step ("Min step" in the editor); equal to the scrape interval. */
  step: string;
  /** "Series value as timestamp": the value (ms) is the event's time, not the sample's. */
  useValueForTime: boolean;
  /** `{{label}}` templates Grafana fills from the series' labels. */
  titleFormat: string;
  textFormat: string;
  /** Comma-separated labels whose values become the event's tags. */
  tagKeys: string;
}

/** Adds `target`: the `node` label when the series has one, else the `job`. */
export const withTarget = (expr: string) =>
  `label_replace(label_replace(${expr}, "target", "$1", "job", "(.+)"), "target", "$1", "node", "(.+)")`;

/** The scrape interval (prometheus/prometheus.yml), so a step never skips a scrape. */
const STEP = '2s';

const configChanges = (name: string, job: string, iconColor: string): AnnotationSpec => ({
  name,
  iconColor,
  expr: withTarget(`lab_config_change_timestamp_seconds{job="${job}"} * 1000`),
  step: STEP,
  useValueForTime: true,
  titleFormat: '{{target}}: {{setting}} {{from}} → {{to}}',
  textFormat: 'live config change (PUT /admin/config on {{instance}})',
  tagKeys: 'target,setting',
});

/** The board's annotations, in the order of the toggles above the panels. */
export const ANNOTATIONS: AnnotationSpec[] = [
  configChanges('Balancer changes', 'balancer', 'blue'),
  configChanges('Rate-limit policy changes', 'limiter', 'purple'),
  configChanges('Node changes', 'node', 'orange'),
  {
    name: 'Process down',
    iconColor: 'red',
    // An outage shorter than one step can fall between two evaluations on a long time
    // range (step grows with the range); at the default 15 minutes the step is the scrape
    // interval and every failed scrape counts. A window function (min_over_time) would
    // catch those but stretch every region past the revival by its window.
    expr: withTarget('up == bool 0'),
    step: STEP,
    useValueForTime: false,
    titleFormat: '{{target}} down',
    textFormat: 'Prometheus could not scrape {{instance}} (up = 0): killed, crashed or stopped',
    tagKeys: 'target',
  },
];

/**
 * One Grafana annotation query on the Prometheus datasource. Its toggle shows above the
 * panels (the SDK's default placement, `inControlsMenu`, would hide it in a dropdown).
 */
export function annotationQuery(
  spec: AnnotationSpec,
  datasource: { type: string; uid: string },
): { build(): AnnotationQuery } {
  const builder = new AnnotationQueryBuilder()
    .name(spec.name)
    .datasource(datasource)
    .enable(true)
    .iconColor(spec.iconColor)
    // Grafana 11+ reads `target`; the top-level expr/step are what older versions read
    // (and what Grafana's prepareAnnotation moves into `target` when it is missing).
    .target(new DataqueryBuilder().refId('Anno').expr(spec.expr).interval(spec.step).range())
    .expr(spec.expr)
    .step(spec.step)
    .useValueForTime(spec.useValueForTime)
    .titleFormat(spec.titleFormat)
    .textFormat(spec.textFormat)
    .tagKeys(spec.tagKeys);
  return {
    build() {
      const { placement: _, ...query } = builder.build();
      return query;
    },
  };
}
