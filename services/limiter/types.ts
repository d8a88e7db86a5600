/**
 * @module
 * The limiter's contract: what an algorithm decides, what it needs, and where its
 * per-key state lives.
 *
 * Shape of a decision, for every algorithm and every store:
 * - an algorithm is a pure state machine over integers: `consume(state, now, cost)`
 *   mutates one key's state and returns a {@link Decision};
 * - a {@link Store} owns the per-key states and calls the algorithm (memory: in
 *   process, synchronously; redis: the same arithmetic in one Lua script per algorithm,
 *   against the server's clock, asynchronously);
 * - each algorithm is one {@link AlgorithmDefinition} in `algorithms/<name>.ts`: its
 *   arithmetic, how the memory store lays its state out, and its Lua twin, side by side.
 *
 * Arithmetic is exact: every algorithm works in integer milliseconds and integer
 * "unit·ms" quantities (a unit of quota × the window length), never in fractional
 * tokens, so a decision never flips on a rounding error and the same numbers come out
 * of JavaScript doubles and Redis Lua doubles (both exact below 2^53).
 */
import type { algorithms } from './algorithms/index.js';

/** The registry keys of the algorithms (`algorithms/index.ts`): a new entry is a new name. */
export type AlgorithmName = keyof typeof algorithms;

/**
 * What every algorithm reads, as DESIGN.md's policy section says: `limit` units per
 * `windowMs` (so the rate is limit / window) and a `burst` (token-bucket capacity,
 * GCRA tolerance; the window algorithms' quota is `limit` and they ignore `burst`).
 * All three are positive integers; `createAlgorithm` throws on anything else.
 */
export interface AlgorithmParams {
  /** Units admitted per window. */
  limit: number;
  /** The window, in whole milliseconds. */
  windowMs: number;
  /** Units admitted at once from a full state (defaults to `limit`). */
  burst: number;
}

/**
 * One decision, for one key, at one instant.
 *
 * `remaining`, `resetMs` and `retryAfterMs` are integers. Headers derive from them:
 * `RateLimit: "<policy>";r=<remaining>;t=<ceil(resetMs / 1000)>` and, when rejected,
 * `Retry-After: <ceil(retryAfterMs / 1000)>`.
 */
export interface Decision {
  /** Whether the `cost` units were admitted (and counted). */
  allowed: boolean;
  /** The policy's quota per window (`q` of `RateLimit-Policy`). */
  limit: number;
  /** Units a request could still take right now, after this decision (≥ 0). */
  remaining: number;
  /** Milliseconds until the key's state is back to full (nothing counted any more). */
  resetMs: number;
  /**
   * 0 when allowed. When rejected: milliseconds until the same request is admitted,
   * if nothing else is counted meanwhile. Honest: a client that waits exactly this long
   * (or the whole seconds of `Retry-After`) is admitted.
   */
  retryAfterMs: number;
}

/**
 * What an algorithm's definition builds from checked parameters: the arithmetic alone.
 * The registry (`bindAlgorithm`) copies these four onto the {@link Algorithm} it adds
 * `name`, `params` and `id` to, so they must not use `this`.
 *
 * Time `now` is integer milliseconds (`Date.now()` in production, an injected clock in
 * tests); `cost` is an integer from 1 to `maxCost` (callers check: a larger cost could
 * never be admitted).
 */
export interface AlgorithmCore<State = unknown> {
  /** The largest cost one request may ask for (the burst or the limit). */
  readonly maxCost: number;
  /** The state of a key never seen: full quota. */
  init(now: number): State;
  /** Counts `cost` units at `now` if they fit, mutating `state`; returns the decision. */
  consume(state: State, now: number, cost: number): Decision;
  /**
   * The instant from which `state` is indistinguishable from `init(...)` (full quota):
   * a store may forget the key from then on.
   */
  idleAt(state: State): number;
}

/**
 * A rate-limiting algorithm bound to its parameters. Stateless itself: the per-key
 * state (`State`) is created by `init` and kept by a {@link Store}.
 */
export interface Algorithm<State = unknown> extends AlgorithmCore<State> {
  readonly name: AlgorithmName;
  readonly params: Readonly<AlgorithmParams>;
  /**
   * Identifies name + parameters, e.g. `token-bucket:10/1000ms:b10`. A store that finds
   * a key's state created under another id (the policy changed) starts it afresh.
   */
  readonly id: string;
}

/** Builds an algorithm from parameters; throws a plain `Error` naming a bad field. */
export type AlgorithmFactory = (params: AlgorithmParams) => Algorithm;

/** The fields of `State` that hold a number. */
type NumericField<State> = { [K in keyof State]-?: State[K] extends number ? K : never }[keyof State] &
  string;

/**
 * How one key's state sits in a slot of the memory store's shared table
 * (`stores/shared-table.ts`), as data: `stores/shared-codecs.ts` derives the codec from
 * it and refuses, when it loads, a layout that does not fit the table or the state.
 */
export interface SharedStateLayout<State> {
  /** The numeric fields kept in the slot's state words, in word order (the table has 3). */
  readonly words: readonly NumericField<State>[];
  /**
   * Entries one key needs in the table's log region, for a state that is a window
   * `{ times, base, capacity }` over it (the sliding-window log): the codec points those
   * three at the slot's part of the region. Absent: no log.
   */
  readonly log?: (params: Readonly<AlgorithmParams>) => number;
}

/**
 * One algorithm, whole, in `algorithms/<name>.ts`; one line in the registry
 * (`algorithms/index.ts`) makes it a policy's `algorithm`, in both stores. It names no
 * {@link AlgorithmName} (the names are derived from the registry that holds it).
 */
export interface AlgorithmDefinition<State> {
  /** Its arithmetic, from parameters already checked (`algorithms/params.ts`). */
  create(params: Readonly<AlgorithmParams>): AlgorithmCore<State>;
  /** Its state's layout in the memory store's shared table. */
  readonly sharedState: SharedStateLayout<State>;
  /**
   * Its Lua twin for the Redis store, run after `stores/redis/prelude.ts` (which sets
   * `key`, `now`, `cost`, `limit`, `window`, `burst`, `int` and `expire`): the same
   * arithmetic on a Redis hash or list, answering `{allowed, remaining, resetMs, retryAfterMs}`.
   */
  readonly redis: string;
}

/** A store's decision: synchronous for the memory store, a promise for a remote store. */
export type MaybePromise<T> = T | PromiseLike<T>;

/**
 * Where per-key state lives. The data plane calls `consume` once per request and only
 * awaits when the result is a promise, so the memory store's path allocates no Promise.
 *
 * A store must apply the algorithm atomically per key (a remote store: one script per
 * call) and must bound what it keeps.
 */
export interface Store {
  /** `memory` or `redis`: the `store` label of `lab_ratelimit_store_errors_total`. */
  readonly kind: string;
  /**
   * Counts `cost` units of `algorithm` for `key`. `key` is already bounded in length
   * and free of raw secrets (see `identity.ts`). Throws / rejects only on a store
   * failure (the caller applies `RATE_LIMIT_FAIL_MODE`).
   */
  consume(key: string, algorithm: Algorithm, cost: number): MaybePromise<Decision>;
  /** Keys tracked right now (the `lab_ratelimit_tracked_keys` gauge); -1 when unknown. */
  trackedKeys(): number;
  /**
   * Throws, naming why, when this store cannot keep `algorithm`'s state exactly (the
   * shared table's fixed sliding-log capacity); checked when policies load, so the data
   * plane never meets it. Absent: every algorithm fits.
   */
  assertSupported?(algorithm: Algorithm): void;
  /** Forgets every key (tests, and `reset` from the admin API if ever added). */
  clear(): MaybePromise<void>;
  /** Stops timers and closes connections. */
  close(): MaybePromise<void>;
}

/** `true` when a {@link MaybePromise} is a promise (cheaper than `instanceof` across realms). */
export function isPromiseLike<T>(value: MaybePromise<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T>).then === 'function';
}
