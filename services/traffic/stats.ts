/**
 * @module
 * What the traffic engine observed: one `Outcome` per request, counted per actor, with
 * latency percentiles and a sliding window of recent outcomes for the live views.
 */

/** One finished request. `status` 0 = no HTTP answer (timeout, refused, reset). */
export interface Outcome {
  actor: string;
  status: number;
  latencyMs: number;
  /** Elapsed ms since the run started, when the answer arrived. */
  at: number;
  /** `X-Upstream`: the node that answered, through the balancer. */
  upstream?: string;
  /** Remaining quota from the `RateLimit` (or legacy `X-RateLimit-Remaining`) header. */
  remaining?: number;
  /** Why there was no answer (`timeout`, `ECONNREFUSED`, ...). */
  error?: string;
}

/** ok = 2xx/3xx, limited = 429, error = anything else (no answer, 5xx, other 4xx). */
export type OutcomeClass = 'ok' | 'limited' | 'error';

export function classify(status: number): OutcomeClass {
  if (status === 429) return 'limited';
  if (status >= 200 && status < 400) return 'ok';
  return 'error';
}

export interface ActorCounts {
  total: number;
  ok: number;
  limited: number;
  errors: number;
  /** Arrivals not sent because `maxInFlight` requests were already waiting (k6's dropped_iterations). */
  dropped: number;
  /** Arrivals a polite client held back (it was backing off) and never sent. */
  held?: number;
  statuses: Record<string, number>;
}

export interface ActorSummary extends ActorCounts {
  actor: string;
  /** ok / total, 0..1 (1 when nothing was sent). */
  successRate: number;
  p50: number;
  p95: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

function emptyCounts(): ActorCounts {
  return { total: 0, ok: 0, limited: 0, errors: 0, dropped: 0, held: 0, statuses: {} };
}

/**
 * Accumulates outcomes. Memory is one number per request plus the outcomes inside the
 * window (a few seconds), so an hour at a thousand requests/s stays in tens of MB.
 */
export class Recorder {
  private readonly byActor = new Map<string, ActorCounts>();
  private readonly latencies = new Map<string, number[]>();
  private readonly recentOutcomes: Outcome[] = [];
  private head = 0;

  /** @param windowMs how much history `recent()` keeps. */
  constructor(private readonly windowMs = 5_000) {}

  private of(actor: string): ActorCounts {
    let counts = this.byActor.get(actor);
    if (!counts) {
      counts = emptyCounts();
      this.byActor.set(actor, counts);
      this.latencies.set(actor, []);
    }
    return counts;
  }

  /** Declares an actor so it appears (with zeros) before its first request. */
  declare(actor: string): void {
    this.of(actor);
  }

  record(outcome: Outcome): void {
    const counts = this.of(outcome.actor);
    counts.total += 1;
    const kind = classify(outcome.status);
    if (kind === 'ok') counts.ok += 1;
    else if (kind === 'limited') counts.limited += 1;
    else counts.errors += 1;
    const key = outcome.status === 0 ? (outcome.error ?? 'error') : String(outcome.status);
    counts.statuses[key] = (counts.statuses[key] ?? 0) + 1;
    this.latencies.get(outcome.actor)?.push(outcome.latencyMs);
    this.recentOutcomes.push(outcome);
  }

  drop(actor: string): void {
    this.of(actor).dropped += 1;
  }

  hold(actor: string): void {
    const counts = this.of(actor);
    counts.held = (counts.held ?? 0) + 1;
  }

  /** Outcomes that arrived within the window before `now` (elapsed ms). */
  recent(now: number, windowMs = this.windowMs): Outcome[] {
    const horizon = now - this.windowMs;
    while (
      this.head < this.recentOutcomes.length &&
      (this.recentOutcomes[this.head] as Outcome).at < horizon
    ) {
      this.head += 1;
    }
    if (this.head > 4_096 && this.head * 2 > this.recentOutcomes.length) {
      this.recentOutcomes.splice(0, this.head);
      this.head = 0;
    }
    const from = now - Math.min(windowMs, this.windowMs);
    return this.recentOutcomes.slice(this.head).filter((o) => o.at >= from);
  }

  counts(actor: string): ActorCounts {
    return { ...this.of(actor) };
  }

  actors(): string[] {
    return [...this.byActor.keys()];
  }

  summary(actor: string): ActorSummary {
    const counts = this.of(actor);
    const sorted = [...(this.latencies.get(actor) ?? [])].sort((a, b) => a - b);
    return {
      actor,
      ...counts,
      statuses: { ...counts.statuses },
      successRate: counts.total === 0 ? 1 : counts.ok / counts.total,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      max: sorted.length ? (sorted[sorted.length - 1] as number) : 0,
    };
  }
}
