/**
 * `make polite`: the naive client and the polite one through the edge, side by side, at
 * the same offered load (loadtests/scenarios.json "polite": 50/s each, 20 s), with
 * distinct keys and the same quota (`naive-client`, `polite-client`: 10/s).
 *
 * - `naive_client`: k6's open model, every arrival sent whatever the answers.
 * - `polite_client`: one VU that keeps the same arrival clock itself, and holds arrivals
 *   back while `Politeness` (backoff.ts, the same decision as `npm run polite`)
 *   says wait: `Retry-After` after a 429, the quota's return after `r=0`. One VU, because
 *   k6 VUs share no state: backoff learned by one must stop the next request.
 *
 * `lab_offered` counts arrivals (sent or held), per scenario, beside k6's `http_reqs`
 * (sent): the board's "offered vs sent" panel. The summary prints offered, sent, admitted
 * and 429s per client. Both clients' answers go through the standard-field checks.
 */
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
import type { Options, Scenario } from 'k6/options';
import { Politeness } from './backoff.ts';
import { expectThrottling, FIELD_THRESHOLDS, rateOf, scenario, scenariosFor, send, summary } from './lib.ts';

const offered = new Counter('lab_offered');
const admitted = new Counter('lab_admitted');
const limited = new Counter('lab_limited');
const held = new Counter('lab_held');

const spec = scenario('polite');
const scenarios = scenariosFor('polite') as Record<string, Scenario>;
const politeRate = rateOf('polite_client', spec.traffic.polite_client ?? {});
const naive = scenarios.naive_client;
const polite = scenarios.polite_client;
if (!naive || !polite || polite.executor !== 'constant-arrival-rate') {
  throw new Error('loadtests/scenarios.json "polite" needs naive_client and polite_client at a rate');
}

export const options: Options = {
  scenarios: {
    naive_client: { ...naive, exec: 'naiveRequest' },
    polite_client: {
      executor: 'constant-vus',
      vus: 1,
      duration: polite.duration,
      exec: 'politeRequest',
      env: polite.env ?? {},
      tags: polite.tags ?? {},
    },
  },
  thresholds: {
    // RateLimit-Policy and RateLimit on every answer, Retry-After on every 429.
    ...FIELD_THRESHOLDS,
    // Sub-metrics per client for the summary (always true).
    ...Object.fromEntries(
      ['naive_client', 'polite_client'].flatMap((s) =>
        ['lab_offered', 'lab_admitted', 'lab_limited', 'http_reqs'].map((m) => [
          `${m}{scenario:${s}}`,
          ['count>=0'],
        ]),
      ),
    ),
  },
};

function request(): ReturnType<typeof send> {
  const res = send(expectThrottling);
  admitted.add(res.status !== 429 && res.status !== 0 ? 1 : 0);
  limited.add(res.status === 429 ? 1 : 0);
  return res;
}

export function naiveRequest(): void {
  offered.add(1);
  request();
}

// The polite VU's own state (one VU: these live for the whole scenario).
const politeness = new Politeness();
const stepMs = 1000 / politeRate;
let nextArrival = 0;
let deferred = false;

function politeSend(): void {
  politeness.sending();
  const sentAt = Date.now();
  const res = request();
  politeness.observe(Date.now(), res, sentAt);
}

/** One event of the polite client: an arrival (sent or held), or a held one going out. */
export function politeRequest(): void {
  const now = Date.now();
  if (nextArrival === 0) nextArrival = now;
  const readyAt = now + politeness.waitMs(now);
  if (deferred && readyAt < nextArrival) {
    // The latest held-back arrival goes out the moment the backoff ends.
    if (readyAt > now) sleep((readyAt - now) / 1000);
    deferred = false;
    politeSend();
    return;
  }
  if (nextArrival > now) sleep((nextArrival - now) / 1000);
  nextArrival += stepMs;
  offered.add(1);
  if (politeness.waitMs(Date.now()) > 0) {
    if (deferred) held.add(1);
    deferred = true;
    return;
  }
  deferred = false;
  politeSend();
}

interface Data {
  metrics: Record<string, { values: Record<string, number> }>;
}

export function handleSummary(data: Data) {
  const result = summary('polite', data);
  const get = (metric: string, s: string) => data.metrics[`${metric}{scenario:${s}}`]?.values.count ?? 0;
  const row = (label: string, metric: string) =>
    `  ${label.padEnd(24)}${String(get(metric, 'naive_client')).padStart(9)}${String(get(metric, 'polite_client')).padStart(9)}`;
  const ratio = (metric: string) => {
    const base = get(metric, 'naive_client');
    return base ? ((100 * get(metric, 'polite_client')) / base).toFixed(1) : '0';
  };
  const lines = [
    '\nnaive vs polite client (same offered load, same quota)',
    `  ${''.padEnd(24)}${'naive'.padStart(9)}${'polite'.padStart(9)}`,
    row('offered (arrivals)', 'lab_offered'),
    row('sent', 'http_reqs'),
    row('admitted (not 429)', 'lab_admitted'),
    row('429 Too Many Requests', 'lab_limited'),
    `  the polite client got ${ratio('lab_admitted')}% of the naive client's admitted requests, sending ${ratio('http_reqs')}% as many`,
  ];
  result.stdout = `${result.stdout}${lines.join('\n')}\n`;
  return result;
}
