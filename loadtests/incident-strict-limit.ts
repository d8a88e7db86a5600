/**
 * `make incident-strict-limit` (the GitHub lesson): an internal config-fetching client
 * bursts (every few seconds, many requests at once) under a limit set too strictly; it
 * sees 429s and its fetches fail. Raising its policy live fixes it.
 * Bursts, phases and policies: loadtests/scenarios.json ("incidents.strict_limit").
 * Node fallback without k6: `npm run incident -- strict-limit`.
 */
import {
  burstRequests,
  incidentFix,
  incidentOptions,
  incidentSetup,
  incidentSummary,
  incidentTeardown,
  type SetupData,
} from './incident-lib.ts';

const NAME = 'strict_limit';
export const options = incidentOptions(NAME);
export const setup = (): SetupData => incidentSetup(NAME);
export const burst = (): void => burstRequests();
export const fix = (saved: SetupData): void => incidentFix(NAME, saved);
export const teardown = (saved: SetupData): void => incidentTeardown(saved);
export const handleSummary = (data: Parameters<typeof incidentSummary>[1]) => incidentSummary(NAME, data);
