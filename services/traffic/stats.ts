/**
 * @module
 * What the traffic engine observed: one `Outcome` per request, counted per actor.
 * Two recorders over the same counters and the same percentile math:
 * - `Recorder`, for a run of known length (the CLI tools): whole-run latency percentiles,
 *   one number per request, and a sliding window of recent outcomes for the live views.
 * - `WindowRecorder`, for a service that runs for days (the console): the latencies of the
 *   last few seconds only, in bounded memory.
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
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

function emptyCounts(): ActorCounts {
  return { total: 0, ok: 0, limited: 0, errors: 0, dropped: 0, held: 0, statuses: {} };
}

/** Per-actor counters: a few numbers per actor and status, whatever the traffic. */
export class Counters {
  private readonly byActor = new Map<string, ActorCounts>();

  private of(actor: string): ActorCounts {
    let counts = this.byActor.get(actor);
    if (!counts) {
      counts = emptyCounts();
      this.byActor.set(actor, counts);
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
  }

  drop(actor: string): void {
    this.of(actor).dropped += 1;
  }

  hold(actor: string): void {
    const counts = this.of(actor);
    counts.held = (counts.held ?? 0) + 1;
  }

  counts(actor: string): ActorCounts {
    const counts = this.of(actor);
    return { ...counts, statuses: { ...counts.statuses } };
  }

  actors(): string[] {
    return [...this.byActor.keys()];
  }
}

/**
 * Whole-run statistics for a run of known length. Memory is one number per request plus
 * the outcomes inside the window (a few seconds), so an hour at a thousand requests/s is
 * about 29 MB: fine for a CLI run, not for a service (see `WindowRecorder`).
 */
export class Recorder extends Counters {
  private readonly latencies = new Map<string, number[]>();
  private readonly recentOutcomes: Outcome[] = [];
  private head = 0;

  /** @param windowMs how much history `recent()` keeps. */
  constructor(private readonly windowMs = 5_000) {
    super();
  }

  override record(outcome: Outcome): void {
    super.record(outcome);
    let latencies = this.latencies.get(outcome.actor);
    if (!latencies) {
      latencies = [];
      this.latencies.set(outcome.actor, latencies);
    }
    latencies.push(outcome.latencyMs);
    this.recentOutcomes.push(outcome);
    // Also here, not only in recent(): a run nobody draws would otherwise keep every outcome.
    this.expire(outcome.at);
  }

  /** Forgets the outcomes older than the window before `now` (outcomes arrive in `at` order). */
  private expire(now: number): void {
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
  }

  /** Outcomes that arrived within the window before `now` (elapsed ms). */
  recent(now: number, windowMs = this.windowMs): Outcome[] {
    this.expire(now);
    const from = now - Math.min(windowMs, this.windowMs);
    return this.recentOutcomes.slice(this.head).filter((o) => o.at >= from);
  }

  summary(actor: string): ActorSummary {
    const counts = this.counts(actor);
    const sorted = [...(this.latencies.get(actor) ?? [])].sort((a, b) => a - b);
    return {
      actor,
      ...counts,
      successRate: counts.total === 0 ? 1 : counts.ok / counts.total,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      max: sorted.length ? (sorted[sorted.length - 1] as number) : 0,
    };
  }
}

/** Latency percentiles over a window, and how many samples they are over. */
export interface WindowLatency {
  p50: number;
  p95: number;
  samples: number;
}

/** One second of an actor's answers: up to `samplesPerSecond` of them, as (latency, at) pairs. */
interface SecondBucket {
  /** `Math.floor(at / 1000)` of the answers it holds. */
  second: number;
  /** Samples held (≤ capacity). */
  size: number;
  /** Answers seen in this second (≥ size once the cap is hit). */
  seen: number;
  latencyMs: Float64Array;
  at: Float64Array;
}

export interface WindowRecorderOptions {
  /** How much history the percentiles are over (ms). [5000] */
  windowMs?: number;
  /** Samples kept per actor per second; beyond it, a uniform sample of that second. [2000] */
  samplesPerSecond?: number;
  /** Chooses which samples a full second keeps. [Math.random] */
  random?: () => number;
}

/**
 * The counters, and the latencies of the last `windowMs` only, for a service that runs for
 * days. Per actor, a ring of per-second buckets (enough to cover any `windowMs` span) of
 * fixed-size arrays, allocated once: memory is bounded by the window, not by the traffic
 * (5 s and 2,000 samples/s: 6 buckets × 2,000 × 16 bytes ≈ 190 KB per actor).
 * Percentiles are exact while no second has more than `samplesPerSecond` answers; a busier
 * second keeps a uniform sample of its answers (reservoir sampling), so they stay unbiased.
 * Only answers count: a request with no answer (status 0) took as long as its timeout, which
 * says nothing about the server.
 */
export class WindowRecorder extends Counters {
  readonly windowMs: number;
  readonly samplesPerSecond: number;
  readonly #random: () => number;
  readonly #ringSize: number;
  readonly #rings = new Map<string, SecondBucket[]>();

  /**
   * @example
   * const recorder = new WindowRecorder({ windowMs: 5_000 });
   * recorder.record({ actor: 'good_user', status: 200, latencyMs: 3, at: performance.now() });
   * recorder.latency('good_user', performance.now()); // { p50: 3, p95: 3, samples: 1 }
   */
  constructor({
    windowMs = 5_000,
    samplesPerSecond = 2_000,
    random = Math.random,
  }: WindowRecorderOptions = {}) {
    super();
    if (!(Number.isFinite(windowMs) && windowMs > 0)) {
      throw new Error(`windowMs must be a positive number of ms, got ${windowMs}`);
    }
    if (!(Number.isInteger(samplesPerSecond) && samplesPerSecond > 0)) {
      throw new Error(`samplesPerSecond must be a positive integer, got ${samplesPerSecond}`);
    }
    this.windowMs = windowMs;
    this.samplesPerSecond = samplesPerSecond;
    this.#random = random;
    // A span of windowMs touches at most ceil(windowMs / 1000) + 1 distinct seconds.
    this.#ringSize = Math.ceil(windowMs / 1_000) + 1;
  }

  override record(outcome: Outcome): void {
    super.record(outcome);
    if (outcome.status === 0) return;
    const second = Math.floor(outcome.at / 1_000);
    const bucket = this.#bucketFor(outcome.actor, second);
    if (!bucket) return;
    let slot = bucket.size;
    if (bucket.size === this.samplesPerSecond) {
      // Reservoir sampling (Algorithm R): the kept samples stay a uniform sample of the second.
      slot = Math.floor(this.#random() * (bucket.seen + 1));
    } else {
      bucket.size += 1;
    }
    bucket.seen += 1;
    if (slot < this.samplesPerSecond) {
      bucket.latencyMs[slot] = outcome.latencyMs;
      bucket.at[slot] = outcome.at;
    }
  }

  /** The bucket of `second`, recycling the ring's oldest; none for a second the ring has passed. */
  #bucketFor(actor: string, second: number): SecondBucket | undefined {
    let ring = this.#rings.get(actor);
    if (!ring) {
      ring = Array.from({ length: this.#ringSize }, () => ({
        second: Number.NEGATIVE_INFINITY,
        size: 0,
        seen: 0,
        latencyMs: new Float64Array(this.samplesPerSecond),
        at: new Float64Array(this.samplesPerSecond),
      }));
      this.#rings.set(actor, ring);
    }
    const bucket = ring[((second % this.#ringSize) + this.#ringSize) % this.#ringSize] as SecondBucket;
    if (bucket.second < second) {
      bucket.second = second;
      bucket.size = 0;
      bucket.seen = 0;
    } else if (bucket.second > second) {
      return undefined; // older than the whole ring: outside any window this recorder answers
    }
    return bucket;
  }

  /** p50/p95 of `actor`'s answers that arrived in the window before `now` (the `at` clock). */
  latency(actor: string, now: number): WindowLatency {
    const from = now - this.windowMs;
    const ring = this.#rings.get(actor) ?? [];
    const held = ring.reduce((sum, b) => sum + b.size, 0);
    const inWindow = new Float64Array(held);
    let n = 0;
    for (const bucket of ring) {
      for (let i = 0; i < bucket.size; i++) {
        const at = bucket.at[i] as number;
        if (at >= from && at <= now) inWindow[n++] = bucket.latencyMs[i] as number;
      }
    }
    const sorted = inWindow.subarray(0, n).sort();
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), samples: n };
  }

  /** Latency samples held, all actors: at most actors × (ceil(windowMs / 1000) + 1) × samplesPerSecond. */
  get retained(): number {
    let held = 0;
    for (const ring of this.#rings.values()) for (const bucket of ring) held += bucket.size;
    return held;
  }
}
