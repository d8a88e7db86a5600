/**
 * @module
 * Wall-clock helpers for process tests: a fixed window is aligned on multiples of its
 * length since the epoch (`algorithms/fixed-window.ts`), so a test counting one window's
 * admissions must not run across its boundary (a run at 12:59:58 sees the quota reset at
 * 13:00:00 and admits one more).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits past the next hour boundary when fewer than `marginMs` are left before it. */
export async function awayFromHourBoundary(marginMs = 60_000): Promise<void> {
  const left = 3_600_000 - (Date.now() % 3_600_000);
  if (left < marginMs) await sleep(left + 1_000);
}
