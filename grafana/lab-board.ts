/**
 * @module
 * The lab's Grafana board, as code: a typed table of panels (title, what to look for,
 * unit, PromQL) turned into a dashboard with `@grafana/grafana-foundation-sdk`.
 * `npm run dashboards` writes it to `grafana/dashboards/lab.json` (committed, provisioned,
 * the Grafana home); `grafana/lab-board.test.ts` fails when that file is stale, and
 * `tests/observability.test.ts` runs every query against a real Prometheus.
 *
 * Series labels come from `prometheus/prometheus.yml`: `job` is the role, `node` names a
 * node (node-1..3, or a replica's address in the scaled topology); the balancer labels its
 * upstreams by name (`upstream`), the limiter its clients by policy name (`client`).
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  MappingType,
  RowBuilder,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { ANNOTATIONS, annotationQuery } from './annotations.js';

export const DATASOURCE = { type: 'prometheus', uid: 'prometheus' } as const;
export const BOARD_UID = 'lb-rl-lab';

/** Traffic the learner sends, not the lab's own plumbing (scrapes, liveness probes). */
const TRAFFIC = 'route!~"/metrics|/healthz"';
const RATE = '$__rate_interval';
/** The two clients of `make polite` (both policy files give them the same quota). */
const POLITE_PAIR = 'client=~"naive-client|polite-client"';

export interface Query {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  /** One line: what the panel shows and what to look for. */
  description: string;
  /** Grafana unit id (`reqps`, `s`, `percentunit`, `short`, `none`). */
  unit: string;
  kind: 'timeseries' | 'stat';
  /** Fed by k6's remote write: empty until `make attack` (or another k6 script) has run. */
  k6?: boolean;
  stacked?: boolean;
  /** Stat panels: show the series name (the active strategy) rather than its value. */
  showName?: boolean;
  upDown?: boolean;
  width: number;
  height: number;
  queries: Query[];
}

export interface RowSpec {
  row: string;
  panels: PanelSpec[];
}

const quantiles = (selector: string, by: string) =>
  [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${by}, le) (rate(${selector}[${RATE}])))`,
    legend: `{{${by}}} p${q * 100}`,
  }));

/** The board, top to bottom. DESIGN.md "Grafana" lists these panels. */
export const ROWS: RowSpec[] = [
  {
    row: 'Load balancing: where requests go',
    panels: [
      {
        title: 'Requests/s per node',
        description:
          "Requests each node answers. Round-robin keeps the three lines together even when one node is slow; least-connections, power-of-two and peak-ewma drop the slow node's line.",
        unit: 'reqps',
        kind: 'timeseries',
        width: 12,
        height: 8,
        queries: [
          {
            expr: `sum by (node) (rate(http_requests_total{job="node",${TRAFFIC}}[${RATE}]))`,
            legend: '{{node}}',
          },
        ],
      },
      {
        title: 'Share of requests per node',
        description:
          "Each node's fraction of all node traffic (stacked to 100%). Even thirds under round-robin; a killed node's band vanishes and the others widen.",
        unit: 'percentunit',
        kind: 'timeseries',
        stacked: true,
        width: 12,
        height: 8,
        queries: [
          {
            expr: `sum by (node) (rate(http_requests_total{job="node",${TRAFFIC}}[${RATE}])) / ignoring (node) group_left sum(rate(http_requests_total{job="node",${TRAFFIC}}[${RATE}]))`,
            legend: '{{node}}',
          },
        ],
      },
      {
        title: 'In-flight requests per upstream',
        description:
          'Requests the balancer has open on each node right now. A slowed node piles up in-flight work; that is the signal least-connections and power-of-two use.',
        unit: 'short',
        kind: 'timeseries',
        width: 8,
        height: 8,
        queries: [{ expr: 'sum by (upstream) (lab_balancer_upstream_in_flight)', legend: '{{upstream}}' }],
      },
      {
        title: 'Latency per node (p50 / p95 / p99)',
        description:
          'Time each node takes to answer (node side). The overloaded node (node-3 at start, or after make slow) sits far above the others, mostly in p95/p99.',
        unit: 's',
        kind: 'timeseries',
        width: 10,
        height: 8,
        queries: quantiles(`http_request_duration_seconds_bucket{job="node",${TRAFFIC}}`, 'node'),
      },
      {
        title: 'Upstreams up',
        description:
          "The balancer's health view of each node: UP, or DOWN once active checks or passive ejection take it out (make kill NODE=2), and UP again after make revive.",
        unit: 'none',
        kind: 'stat',
        upDown: true,
        width: 6,
        height: 8,
        queries: [{ expr: 'max by (upstream) (lab_balancer_upstream_up)', legend: '{{upstream}}' }],
      },
    ],
  },
  {
    row: 'Rate limiting: who gets through',
    panels: [
      {
        title: 'Active strategy and algorithms',
        description:
          "The balancer's strategy and each rate-limit policy's algorithm right now; make strategy S=... and make algorithm A=... change them live.",
        unit: 'none',
        kind: 'stat',
        showName: true,
        width: 6,
        height: 8,
        queries: [
          { expr: 'max by (strategy) (lab_balancer_strategy_info) == 1', legend: 'strategy: {{strategy}}' },
          {
            expr: 'max by (policy, algorithm) (lab_ratelimit_algorithm_info) == 1',
            legend: '{{policy}}: {{algorithm}}',
          },
        ],
      },
      {
        title: 'Allowed vs rejected per client',
        description:
          "Rate-limit decisions by client: the bad actor's rejected line rises with its flood while the good user's stays allowed, never rejected.",
        unit: 'reqps',
        kind: 'timeseries',
        width: 12,
        height: 8,
        queries: [
          {
            expr: `sum by (client, decision) (rate(lab_ratelimit_decisions_total[${RATE}]))`,
            legend: '{{client}} {{decision}}',
          },
        ],
      },
      {
        title: 'Edge responses by status',
        description:
          'What clients get back from the limiter: 200s for admitted traffic, 429s for throttled traffic; 5xx here means the balancer or the nodes are failing.',
        unit: 'reqps',
        kind: 'timeseries',
        stacked: true,
        width: 6,
        height: 8,
        queries: [
          {
            expr: `sum by (status) (rate(http_requests_total{job="limiter",${TRAFFIC}}[${RATE}]))`,
            legend: '{{status}}',
          },
        ],
      },
      {
        title: 'Decisions per limiter replica',
        description:
          'Allowed and rejected per limiter instance. With one memory-store limiter there is one pair of lines; with the scaled topology each replica shares one Redis budget, so their allowed lines add up to the limit.',
        unit: 'reqps',
        kind: 'timeseries',
        width: 12,
        height: 8,
        queries: [
          {
            expr: `sum by (instance, decision) (rate(lab_ratelimit_decisions_total[${RATE}]))`,
            legend: '{{instance}} {{decision}}',
          },
        ],
      },
      {
        title: 'Keys tracked by the limiter',
        description:
          'Client keys the limiter holds state for. It stays bounded even under a flood of random API keys: idle keys are evicted and a hard cap applies.',
        unit: 'short',
        kind: 'timeseries',
        width: 12,
        height: 8,
        queries: [{ expr: 'sum by (instance) (lab_ratelimit_tracked_keys)', legend: '{{instance}}' }],
      },
    ],
  },
  {
    row: 'k6: what the clients see',
    panels: [
      {
        title: 'Good user latency (k6)',
        description:
          "The good user's p95 and p99 as k6 measured them (k6 sends seconds), end to end through the limiter. They stay low and flat while the bad actor floods.",
        unit: 's',
        kind: 'timeseries',
        k6: true,
        width: 8,
        height: 8,
        queries: [
          { expr: 'max(k6_http_req_duration_p95{scenario="good_user"})', legend: 'p95' },
          { expr: 'max(k6_http_req_duration_p99{scenario="good_user"})', legend: 'p99' },
        ],
      },
      {
        title: 'Good user error rate (k6)',
        description:
          "Fraction of the good user's requests that failed (anything but 2xx/3xx). It must stay at 0%: the attack thresholds fail above 1%.",
        unit: 'percentunit',
        kind: 'timeseries',
        k6: true,
        width: 8,
        height: 8,
        queries: [{ expr: 'max(k6_http_req_failed_rate{scenario="good_user"})', legend: 'failed' }],
      },
      {
        title: 'k6 requests/s per scenario',
        description:
          "Offered load per k6 scenario: the bad actor sends far more than the good user; compare with the limiter's allowed line to see how much is turned away.",
        unit: 'reqps',
        kind: 'timeseries',
        k6: true,
        width: 8,
        height: 8,
        queries: [{ expr: `sum by (scenario) (rate(k6_http_reqs_total[${RATE}]))`, legend: '{{scenario}}' }],
      },
    ],
  },
  {
    row: 'Polite vs naive client (make polite)',
    panels: [
      {
        title: 'Admitted/s: naive vs polite client',
        description:
          'Requests the limiter let through for each client (same quota, 10/s; same offered load, 50/s). The two lines sit together: backing off costs the polite client almost nothing.',
        unit: 'reqps',
        kind: 'timeseries',
        width: 8,
        height: 8,
        queries: [
          {
            expr: `sum by (client) (rate(lab_ratelimit_decisions_total{${POLITE_PAIR},decision="allowed"}[${RATE}]))`,
            legend: '{{client}} admitted',
          },
        ],
      },
      {
        title: '429s/s: naive vs polite client',
        description:
          'Requests the limiter had to refuse: the naive client keeps sending and collects about four 429s per admitted request; the polite one waits out Retry-After and RateLimit and collects almost none.',
        unit: 'reqps',
        kind: 'timeseries',
        width: 8,
        height: 8,
        queries: [
          {
            expr: `sum by (client) (rate(lab_ratelimit_decisions_total{${POLITE_PAIR},decision="rejected"}[${RATE}]))`,
            legend: '{{client}} 429',
          },
        ],
      },
      {
        title: 'Offered vs sent per client (k6)',
        description:
          'Offered: arrivals at the scenario rate; sent: requests that went out. Equal for the naive client; the polite client holds back about four in five while it waits.',
        unit: 'reqps',
        kind: 'timeseries',
        k6: true,
        width: 8,
        height: 8,
        queries: [
          { expr: `sum by (scenario) (rate(k6_lab_offered_total[${RATE}]))`, legend: '{{scenario}} offered' },
          {
            expr: `sum by (scenario) (rate(k6_http_reqs_total{scenario=~"naive_client|polite_client"}[${RATE}]))`,
            legend: '{{scenario}} sent',
          },
        ],
      },
    ],
  },
  {
    row: 'Processes',
    panels: [
      {
        title: 'Event-loop lag per service (p99)',
        description:
          'How late each Node process runs its callbacks. An overloaded node (CPU-bound fib on the event loop) shows tens of milliseconds; the proxies should stay near zero.',
        unit: 's',
        kind: 'timeseries',
        width: 24,
        height: 8,
        queries: [
          {
            expr: 'max by (job, instance) (nodejs_eventloop_lag_p99_seconds)',
            legend: '{{job}} {{instance}}',
          },
        ],
      },
    ],
  },
];

function panel(spec: PanelSpec, id: number) {
  const targets = spec.queries.map((q, i) =>
    new DataqueryBuilder()
      .refId(String.fromCharCode(65 + i))
      .expr(q.expr)
      .legendFormat(q.legend)
      .range(),
  );
  if (spec.kind === 'stat') {
    const stat = new StatPanel()
      .id(id)
      .title(spec.title)
      .description(spec.description)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .height(spec.height)
      .span(spec.width)
      .graphMode(common.BigValueGraphMode.None)
      .textMode(spec.showName ? common.BigValueTextMode.Name : common.BigValueTextMode.ValueAndName)
      .colorMode(spec.upDown ? common.BigValueColorMode.Background : common.BigValueColorMode.None)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    if (spec.upDown) {
      stat.mappings([
        {
          type: MappingType.ValueToText,
          options: {
            '0': { text: 'DOWN', color: 'red', index: 0 },
            '1': { text: 'UP', color: 'green', index: 1 },
          },
        },
      ]);
    }
    for (const t of targets) stat.withTarget(t);
    return stat;
  }
  const series = new TimeseriesPanel()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .height(spec.height)
    .span(spec.width)
    .lineWidth(2)
    .fillOpacity(spec.stacked ? 40 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
  if (spec.stacked) series.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (spec.unit === 'percentunit') series.min(0);
  for (const t of targets) series.withTarget(t);
  return series;
}

/** The whole board as Grafana dashboard JSON (a plain object). */
export function buildLabBoard(): Dashboard {
  const board = new DashboardBuilder('Load Balancing & Rate Limiting')
    .uid(BOARD_UID)
    .description(
      'The lab: three nodes behind a balancer, behind an edge rate limiter. Run make attack and watch.',
    )
    .tags(['lab', 'load-balancing', 'rate-limiting'])
    .refresh('5s')
    .time({ from: 'now-15m', to: 'now' })
    .timezone('browser')
    .tooltip(1)
    .readonly()
    // Every change and fault as a mark on the timeline (grafana/annotations.ts).
    .annotations(ANNOTATIONS.map((spec) => annotationQuery(spec, DATASOURCE)));
  let id = 0;
  for (const row of ROWS) {
    board.withRow(new RowBuilder(row.row).id(++id));
    for (const spec of row.panels) board.withPanel(panel(spec, ++id));
  }
  return board.build();
}

/** The file content `npm run dashboards` writes (stable: same input, same bytes). */
export function renderLabBoard(): string {
  return `${JSON.stringify(buildLabBoard(), null, 2)}\n`;
}

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

/**
 * Metric names an expression reads: identifiers outside label matchers, ranges and
 * grouping clauses that are not functions or PromQL keywords.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const [word, call] = [match[0].replace(/\s*\($/, ''), match[1]];
    if (call || PROMQL_WORDS.has(word)) continue;
    names.add(word);
  }
  return [...names];
}
