/**
 * `make bad-actor`: the bad actor alone, through the edge, at the data file's rate
 * (loadtests/scenarios.json "bad_actor") or BAD_ACTOR_RATE, up to the workshop's 10,000 req/s:
 *   make bad-actor K6_ARGS="-e BAD_ACTOR_RATE=10000 -e DURATION=20s"
 * 429s are expected; the check counts how many were throttled.
 */
import type { Options } from 'k6/options';
import { expectThrottling, FIELD_THRESHOLDS, outcome, scenariosFor, send, summary } from './lib.ts';

export const options: Options = {
  scenarios: scenariosFor('bad_actor'),
  thresholds: {
    // Nothing but 2xx and 429: a 5xx means the flood got through and hurt something.
    http_req_failed: ['rate<0.01'],
    'checks{checks_of:outcome}': ['rate>0.5'],
    ...FIELD_THRESHOLDS,
  },
};

export function actor(): void {
  const res = send(expectThrottling);
  outcome(res, 'throttled (429)', (r) => r.status === 429);
}

export function handleSummary(data: Parameters<typeof summary>[1]) {
  return summary('bad-actor', data);
}
