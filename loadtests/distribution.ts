/**
 * `make distribution`: steady traffic straight to the balancer, counting which node answered
 * (`X-Upstream`). The counter `lab_upstream_requests{upstream}` reaches Prometheus as
 * `k6_lab_upstream_requests_total`; the summary prints each node's share.
 * Rate and duration: loadtests/scenarios.json ("distribution"); NODES=5 for a scaled lab.
 */
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import { FIELD_THRESHOLDS, outcome, scenariosFor, send, summary } from './lib.ts';

const perUpstream = new Counter('lab_upstream_requests');
const nodes = Number(__ENV.NODES || 3);

export const options: Options = {
  scenarios: scenariosFor('distribution'),
  thresholds: {
    http_req_failed: ['rate<0.01'],
    // Straight to the balancer: no limiter, so the rate-limit fields may be absent (never malformed).
    ...FIELD_THRESHOLDS,
    // One sub-metric per node makes the summary list each node's count.
    ...Object.fromEntries(
      Array.from({ length: nodes }, (_, i) => [
        `lab_upstream_requests{upstream:node-${i + 1}}`,
        ['count>=0'],
      ]),
    ),
  },
};

export function actor(): void {
  const res = send();
  const upstream = res.headers['X-Upstream'] ?? 'none';
  perUpstream.add(1, { upstream });
  outcome(res, 'answered by a node', () => upstream !== 'none');
}

interface Data {
  metrics: Record<string, { values: Record<string, number> }>;
}

export function handleSummary(data: Data) {
  const result = summary('distribution', data);
  const total = data.metrics.lab_upstream_requests?.values.count ?? 0;
  const lines = ['\nrequests per node (X-Upstream):'];
  for (const [metric, value] of Object.entries(data.metrics)) {
    const match = /^lab_upstream_requests\{upstream:(.+)\}$/.exec(metric);
    if (!match) continue;
    const count = value.values.count ?? 0;
    const share = total ? (100 * count) / total : 0;
    lines.push(
      `  ${(match[1] ?? '').padEnd(12)} ${String(count).padStart(7)}  ${share.toFixed(1).padStart(5)}%  ${'#'.repeat(Math.round(share / 2))}`,
    );
  }
  result.stdout = `${result.stdout}${lines.join('\n')}\n`;
  return result;
}
