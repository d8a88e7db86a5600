/**
 * @module
 * Open-model arrival schedules as pure functions of elapsed time.
 *
 * An open model starts requests on a clock, whatever the server does (k6's
 * `constant-arrival-rate`): a slow server does not slow the arrivals, so queues and
 * latency grow the way they do in production. A closed model (N users in a loop) would
 * hide the overload by sending less. `due(t)` is the cumulative number of arrivals by
 * elapsed time `t`; the engine starts `due(t) - started` requests at each tick, so timer
 * jitter never changes the average rate.
 */

/** Either a steady rate, or `size` requests at once every `everyMs` (a client fetching config). */
export type ArrivalPattern =
  | { kind: 'rate'; rate: number; startMs?: number }
  | { kind: 'bursts'; everyMs: number; size: number; startMs?: number };

/** Arrivals due by elapsed time `t` (ms), counting the first one at the start. */
export function due(pattern: ArrivalPattern, t: number): number {
  const since = t - (pattern.startMs ?? 0);
  if (since < 0) return 0;
  if (pattern.kind === 'rate') {
    if (pattern.rate <= 0) return 0;
    return Math.floor((since * pattern.rate) / 1_000) + 1;
  }
  return (Math.floor(since / pattern.everyMs) + 1) * pattern.size;
}

/** Elapsed time (ms) of the next arrival after `count` arrivals, for the engine's sleep. */
export function nextArrivalAt(pattern: ArrivalPattern, count: number): number {
  const start = pattern.startMs ?? 0;
  if (pattern.kind === 'rate') {
    if (pattern.rate <= 0) return Number.POSITIVE_INFINITY;
    return start + Math.ceil((count * 1_000) / pattern.rate);
  }
  return start + Math.floor(count / pattern.size) * pattern.everyMs;
}

/** Average arrivals per second, for titles and summaries. */
export function averageRate(pattern: ArrivalPattern): number {
  return pattern.kind === 'rate' ? pattern.rate : (pattern.size * 1_000) / pattern.everyMs;
}
