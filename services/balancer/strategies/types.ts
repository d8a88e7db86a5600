/**
 * @module
 * The contract every load-balancing strategy implements. A strategy only *chooses*:
 * health, ejection, retries and metrics belong to the balancer around it, which passes
 * only the upstreams that may be picked right now.
 */

/** What a strategy may read about an upstream. The balancer keeps these fields current. */
export interface Backend {
  /** Stable, readable name (`host:port` or the name given in `UPSTREAMS`). */
  readonly id: string;
  /** Relative weight (≥ 1); strategies that ignore weights treat all as equal. */
  readonly weight: number;
  /** Requests sent to it and not finished yet. */
  readonly inFlight: number;
}

/** Per-request input to `pick`. */
export interface PickContext {
  /**
   * The request's affinity key for hashing strategies: the `/data/:key` key, the body's
   * `key` of `POST /data`, a configured header, or the client address.
   */
  hashKey(): string;
}

/** How a request that a strategy picked ended, for strategies that learn from it. */
export interface RequestResult {
  /** Time to the upstream's response headers, or to the failure, in ms. */
  latencyMs: number;
  /** False for connect errors, timeouts, broken connections and 5xx answers. */
  ok: boolean;
}

export interface Strategy {
  /**
   * Chooses one of `backends` (all currently healthy, never empty when called by the
   * balancer). Returns undefined only for an empty list.
   */
  pick(backends: readonly Backend[], ctx: PickContext): Backend | undefined;
  /**
   * Set by a strategy that hashes on `ctx.hashKey()`: the key of a `POST /data` body is
   * part of it, so the balancer reads that body (at most BODY_LIMIT) before picking.
   */
  readonly needsBodyKey?: boolean;
  /** Called when a request is sent to `backend` (after `inFlight` was incremented). */
  onRequestStart?(backend: Backend): void;
  /** Called when that request ended (after `inFlight` was decremented). */
  onRequestEnd?(backend: Backend, result: RequestResult): void;
}

/** Sources every factory receives, so tests control chance and time (Envoy's style). */
export interface StrategyDeps {
  /** Uniform in [0, 1). */
  random: () => number;
  /** Milliseconds, monotonic. */
  now: () => number;
}

/** Settings from the balancer's config that some strategies read; each ignores the rest. */
export interface StrategySettings {
  /** consistent-hash bounded load factor c (HASH_LOAD_FACTOR; 0 = off). */
  hashLoadFactor: number;
}

/**
 * What every strategy factory is: `(deps, settings) => Strategy`. A factory that needs
 * neither takes neither (round robin); one with tunables of its own takes them beside
 * the settings, with their defaults (peak EWMA's `decayMs`).
 */
export type StrategyFactory = (deps: StrategyDeps, settings: StrategySettings) => Strategy;

/** Picks uniformly among `count` items with the injected random source. */
export const randomIndex = (random: () => number, count: number) =>
  Math.min(count - 1, Math.floor(random() * count));

/**
 * The lowest-`score` backend; ties broken uniformly at random (reservoir sampling), so
 * equal backends share the load instead of the first one taking it all.
 */
export function lowestScore(
  backends: readonly Backend[],
  score: (backend: Backend) => number,
  random: () => number,
): Backend | undefined {
  let best: Backend | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  let ties = 0;
  for (const backend of backends) {
    const s = score(backend);
    if (s < bestScore) {
      best = backend;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore) {
      ties++;
      if (random() * ties < 1) best = backend;
    }
  }
  return best;
}
