/**
 * `make attack`: the good user and the bad actor at once, through the edge (limiter).
 * Distinct X-API-Keys, so the limiter keys them apart; 429 is declared expected for the
 * bad actor only. The run passes only when the good user keeps ≥ 99% success, a low p95,
 * while the bad actor is throttled.
 * Rates, duration and keys: loadtests/scenarios.json ("attack"); BAD_ACTOR_RATE=10000 for the flood.
 */
import type { Options } from 'k6/options';
import { expectThrottling, FIELD_THRESHOLDS, outcome, scenariosFor, send, summary } from './lib.ts';

export const options: Options = {
  scenarios: scenariosFor('attack'),
  thresholds: {
    'http_req_failed{scenario:good_user}': ['rate<0.01'],
    'http_req_duration{scenario:good_user}': ['p(95)<500'],
    'checks{scenario:good_user,checks_of:outcome}': ['rate>=0.99'],
    // The bad actor is throttled: most of its requests come back 429.
    'checks{scenario:bad_actor,checks_of:outcome}': ['rate>0.5'],
    // RateLimit-Policy and RateLimit on every answer, Retry-After on every 429.
    ...FIELD_THRESHOLDS,
  },
};

export function actor(): void {
  if (__ENV.ACTOR === 'bad_actor') {
    const res = send(expectThrottling);
    outcome(res, 'bad actor throttled (429)', (r) => r.status === 429);
  } else {
    const res = send();
    outcome(res, 'good user served (2xx)', (r) => r.status >= 200 && r.status < 300);
  }
}

export function handleSummary(data: Parameters<typeof summary>[1]) {
  return summary('attack', data);
}
