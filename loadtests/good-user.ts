/**
 * `make good-user`: the good user alone, through the edge. Passes only at ≥ 99% success
 * and a low p95. Rate, duration and key: loadtests/scenarios.json ("good_user").
 */
import type { Options } from 'k6/options';
import { FIELD_THRESHOLDS, outcome, scenariosFor, send, summary } from './lib.ts';

export const options: Options = {
  scenarios: scenariosFor('good_user'),
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
    'checks{checks_of:outcome}': ['rate>=0.99'],
    ...FIELD_THRESHOLDS,
  },
};

export function actor(): void {
  const res = send();
  outcome(res, 'served (2xx)', (r) => r.status >= 200 && r.status < 300);
}

export function handleSummary(data: Parameters<typeof summary>[1]) {
  return summary('good-user', data);
}
