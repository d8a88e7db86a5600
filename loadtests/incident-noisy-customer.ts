/**
 * `make incident-noisy-customer` (the Cloudflare lesson): one customer's flood, with no
 * per-customer quota (its policy is `exempt`), saturates the CPU-loaded nodes and the good
 * customers' latency and errors rise; then the quota is switched on live and they recover.
 * Rates, phases and policies: loadtests/scenarios.json ("incidents.noisy_customer").
 * Node fallback without k6: `npm run incident -- noisy-customer`.
 */
import {
  actorRequest,
  incidentFix,
  incidentOptions,
  incidentSetup,
  incidentSummary,
  incidentTeardown,
  type SetupData,
} from './incident-lib.ts';

const NAME = 'noisy_customer';
export const options = incidentOptions(NAME);
export const setup = (): SetupData => incidentSetup(NAME);
export const actor = (): void => actorRequest();
export const fix = (saved: SetupData): void => incidentFix(NAME, saved);
export const teardown = (saved: SetupData): void => incidentTeardown(saved);
export const handleSummary = (data: Parameters<typeof incidentSummary>[1]) => incidentSummary(NAME, data);
