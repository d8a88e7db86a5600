/**
 * @module
 * What the traffic CLIs share: flag parsing with clear errors, the output sink (a terminal
 * redraws in place, anything else gets parsable lines), and Ctrl-C as an AbortSignal
 * (first press: stop cleanly and print the summary; second press: exit at once).
 */
import { parseDuration } from '../../services/shared/duration.js';

/** Where a CLI writes; `isTTY` picks redraw vs one line per interval. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class UsageError extends Error {}

/** A positive number flag, or the default; names the flag when invalid. */
export function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  max = 1_000_000,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    throw new UsageError(`--${name} must be a number above 0 and at most ${max}, got "${value}"`);
  }
  return n;
}

/** A duration flag (`10`, `10s`, `2m`), or the default, in ms. */
export function durationFlag(name: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  try {
    const parsed = parseDuration(value, 1000); // a bare number is seconds
    if (parsed <= 0) throw new Error('not positive');
    return parsed;
  } catch {
    throw new UsageError(`--${name} must be a duration like 10, 10s or 2m, got "${value}"`);
  }
}

/** A URL flag; names the flag when invalid. */
export function urlFlag(name: string, value: string | undefined, fallback: string): string {
  const text = value ?? fallback;
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    return text.replace(/\/$/, '');
  } catch {
    throw new UsageError(`--${name} must be an http(s) URL, got "${text}"`);
  }
}

/**
 * Ctrl-C (and SIGTERM) as an AbortSignal for the engine; a second Ctrl-C exits with 130.
 * Returns a function that removes the handlers.
 *
 * @param [options.repeatGraceMs=0] - a repeat within this long after the first is ignored:
 * under `npm run`/`tsx` one Ctrl-C arrives twice (from the terminal, and relayed by tsx), and
 * a tool with cleanup to do (chaos restores the nodes it killed) must not exit on the echo.
 */
export function interruptSignal({ repeatGraceMs = 0 }: { repeatGraceMs?: number } = {}): {
  signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  let firstAt = 0;
  const onSignal = () => {
    if (controller.signal.aborted) {
      if (performance.now() - firstAt >= repeatGraceMs) process.exit(130);
      return;
    }
    firstAt = performance.now();
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Runs a CLI's main: usage errors exit 2 with the message, other failures exit 1. */
export async function runCli(name: string, main: () => Promise<number | undefined>): Promise<void> {
  try {
    process.exitCode = (await main()) ?? 0;
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

/**
 * The whole `main` of a traffic CLI run as a script: parse the flags (a bad one exits 2
 * with the message and the usage), `--help`, then run with Ctrl-C as the stop signal.
 *
 * @param parse - argv → options, or `'help'`
 * @param run - gets the options plus `out` (stdout) and `signal` (Ctrl-C)
 */
export async function runTrafficCli<Options>(
  name: string,
  usage: string,
  parse: (argv: string[]) => Options | 'help',
  run: (options: Options & { out: Output; signal: AbortSignal }) => Promise<unknown>,
): Promise<void> {
  await runCli(name, async () => {
    let parsed: Options | 'help';
    try {
      parsed = parse(process.argv.slice(2));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`${(error as Error).message}\n${usage}`);
    }
    if (parsed === 'help') {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    const interrupt = interruptSignal();
    try {
      await run({ ...parsed, out: process.stdout, signal: interrupt.signal });
    } finally {
      interrupt.dispose();
    }
    return 0;
  });
}
