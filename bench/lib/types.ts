/**
 * @module
 * The benchmark harness's contract: one file per case under `bench/cases/`, each
 * exporting a default {@link BenchCase}. `npm run bench [-- --quick] [-- --case NAME]`.
 */

export interface BenchSettings {
  /** `--quick`: fewer, shorter rounds (a smoke run, not a measurement). */
  quick: boolean;
  /** Rounds of the A B A B alternation. */
  rounds: number;
  /** Seconds of load per measured run. */
  durationS: number;
  /** Seconds of unrecorded warm-up per target, once before the rounds. */
  warmupS: number;
  /** wrk connections. */
  connections: number;
  /** `--only a,b`: measure only these targets of a case (for a focused A/B); empty = all. */
  only: string[];
  /** `--case NAME`: this case runs alone, so it may take longer than in a run of every case. */
  oneCase?: boolean;
}

export interface BenchContext {
  settings: BenchSettings;
  /** Prints a line of progress. */
  log(line: string): void;
  /** Registers cleanup that runs even when the case fails (stop processes, remove files). */
  defer(cleanup: () => void | Promise<void>): void;
  /** A scratch directory of this run, removed at the end. */
  tmpDir: string;
}

export interface BenchCase {
  name: string;
  description: string;
  /** Returns the case's JSON result (written to bench/results/<name>-<time>.json) and a printable summary. */
  run(ctx: BenchContext): Promise<{ result: object; summary: string }>;
}
