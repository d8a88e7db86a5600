/**
 * @module
 * Shared settings of every fuzz property (fast-check), so no test file repeats them.
 *
 * - `npm test` (no FUZZ_* set): each property runs its own small `runs` count from a fixed
 *   seed, so the suite stays fast and deterministic.
 * - `npm run fuzz` (tools/fuzz.ts) sets `FUZZ_SECONDS`: each property then runs until
 *   its time budget is spent (or `FUZZ_RUNS` cases), from a random seed it prints.
 * - `FUZZ_SEED=<n>` (and `FUZZ_PATH=<path>` from a failure report) replays a run; a
 *   failure message prints the exact command.
 * - `FUZZ_SUMMARY=<file>`: one JSON line per property (name, cases, seed, failed), which
 *   `npm run fuzz` adds up.
 */
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import fc from 'fast-check';
import { expect, vi } from 'vitest';

/** The seed `npm test` uses: a fixed one, so a red CI run is red for everyone. */
const DEFAULT_SEED = 20_261_127;

const positive = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number; got "${raw}"`);
  return value;
};

const seconds = positive('FUZZ_SECONDS');
const runsOverride = positive('FUZZ_RUNS');
const seedText = process.env.FUZZ_SEED;
const seed = seedText ? Number.parseInt(seedText, 10) | 0 : DEFAULT_SEED;
const path = process.env.FUZZ_PATH || undefined;

export const fuzzSettings = {
  /** Long mode (`npm run fuzz`): per-property time budget in ms, or undefined. */
  budgetMs: seconds === undefined ? undefined : seconds * 1000,
  seed,
  path,
};

/**
 * The vitest timeout for a fuzz test: `quickMs` under `npm test`, the time budget plus
 * room for the last case and shrinking under `npm run fuzz`.
 */
export function fuzzTimeout(quickMs = 30_000): number {
  return fuzzSettings.budgetMs === undefined ? quickMs : fuzzSettings.budgetMs + Math.max(quickMs, 120_000);
}

// Every test of a file that fuzzes gets the time its properties need (this module is
// imported by each of them): a minute under `npm test`, the budget plus room for the
// last case and shrinking under `npm run fuzz`.
vi.setConfig({ testTimeout: fuzzTimeout(60_000) });

/**
 * Runs `property` with the shared settings and fails the test with fast-check's report
 * and the replay command.
 * @param name - unique across the suite (it names the property in the summary)
 * @param [options.runs] - cases under `npm test`; keep the whole fuzz layer well under a minute
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  { runs }: { runs: number },
): Promise<fc.RunDetails<Ts>> {
  const budget = fuzzSettings.budgetMs;
  const params: fc.Parameters<Ts> = {
    seed,
    numRuns: runsOverride ?? (budget === undefined ? runs : 1_000_000_000),
    ...(budget === undefined ? {} : { interruptAfterTimeLimit: budget, markInterruptAsFailure: false }),
    ...(path === undefined ? {} : { path }),
  };
  const started = performance.now();
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, params);
  const ms = Math.round(performance.now() - started);
  const summary = process.env.FUZZ_SUMMARY;
  if (summary) {
    appendFileSync(
      summary,
      `${JSON.stringify({ name, cases: details.numRuns, seed, failed: details.failed, ms })}\n`,
    );
  }
  if (budget !== undefined) console.log(`fuzz ${name}: ${details.numRuns} cases in ${ms} ms, seed ${seed}`);
  if (details.failed) {
    const file = relative(process.cwd(), expect.getState().testPath ?? '');
    const test = expect.getState().currentTestName?.split(' > ').at(-1) ?? name;
    throw new Error(
      `${clip(fc.defaultReportMessage(details) ?? '')}\n${errorText(details.errorInstance)}\n\nreplay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} ` +
        `npx vitest run ${file} -t ${JSON.stringify(test)}`,
    );
  }
  return details;
}

/** Long lines (a 60 KB body in a counterexample) cut to a readable length. */
const clip = (text: string, max = 2000) =>
  text
    .split('\n')
    .map((line) => (line.length > max ? `${line.slice(0, max)}… (${line.length} characters)` : line))
    .join('\n');

function errorText(error: unknown): string {
  if (error === undefined) return '';
  return clip(`Error: ${error instanceof Error ? error.message : String(error)}`, 4000);
}
