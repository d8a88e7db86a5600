/**
 * @module
 * A circuit breaker around a remote store: the store failure policy's "back off instead
 * of hammering a dead Redis, recover by itself, log once per state change".
 *
 * - **up**: every call goes to the store. `threshold` failures in a row (errors or
 *   timeouts) turn the circuit **down** (one `store_down` warning).
 * - **down**: calls fail at once with a {@link StoreUnavailableError}, no network, so the
 *   data plane applies `RATE_LIMIT_FAIL_MODE` (admit, or 503) without waiting. After a
 *   backoff (`minBackoffMs`, doubling up to `maxBackoffMs`) one call is let through as a
 *   probe; while it runs the others keep failing fast. Probe succeeds → **up** again (one
 *   `store_up` line, with how long it was down and how many calls failed); probe fails →
 *   the backoff doubles.
 *
 * Every failed call is still a failed call to the caller (counted in
 * `lab_ratelimit_store_errors_total`); only the logging and the load on the store change.
 */
import type { Logger } from '../../shared/logger.js';
import { type Algorithm, type Decision, isPromiseLike, type MaybePromise, type Store } from '../types.js';

/** A store call that failed, or was not tried because the circuit is down. Logged by the circuit. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export interface CircuitOptions {
  log: Logger;
  /** Written into the log lines (what the data plane does meanwhile). */
  failMode?: 'open' | 'closed';
  /** Failures in a row that turn the circuit down. */
  threshold?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Clock in ms (tests inject one). */
  now?: () => number;
}

export type CircuitState = 'up' | 'down';

export class CircuitStore implements Store {
  readonly kind: string;
  readonly inner: Store;
  /** Calls failed fast, without touching the store, since the circuit last went down. */
  shed = 0;
  readonly #log: Logger;
  readonly #failMode: string;
  readonly #threshold: number;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #now: () => number;
  #state: CircuitState = 'up';
  #failuresInRow = 0;
  #backoff: number;
  #retryAt = 0;
  #probing = false;
  #downSince = 0;
  #failedWhileDown = 0;
  readonly #fastFail: StoreUnavailableError;
  readonly #ok = (decision: Decision): Decision => {
    this.#failuresInRow = 0;
    return decision;
  };
  readonly #fail = (error: unknown): never => {
    throw this.#failed(error);
  };

  /**
   * @param [options.threshold=3]
   * @param [options.minBackoffMs=100]
   * @param [options.maxBackoffMs=2000]
   * @example
   * const store = new CircuitStore(new RedisStore({ url }), { log, failMode: 'open' });
   */
  constructor(
    inner: Store,
    {
      log,
      failMode = 'open',
      threshold = 3,
      minBackoffMs = 100,
      maxBackoffMs = 2000,
      now = Date.now,
    }: CircuitOptions,
  ) {
    this.inner = inner;
    this.kind = inner.kind;
    this.#log = log;
    this.#failMode = failMode;
    this.#threshold = threshold;
    this.#minBackoff = minBackoffMs;
    this.#maxBackoff = maxBackoffMs;
    this.#backoff = minBackoffMs;
    this.#now = now;
    this.#fastFail = new StoreUnavailableError(`the ${inner.kind} store is down (circuit open)`);
  }

  get state(): CircuitState {
    return this.#state;
  }

  consume(key: string, algorithm: Algorithm, cost: number): MaybePromise<Decision> {
    if (this.#state === 'down') {
      if (this.#probing || this.#now() < this.#retryAt) {
        this.shed++;
        this.#failedWhileDown++;
        throw this.#fastFail;
      }
      let probe: MaybePromise<Decision>;
      try {
        probe = this.inner.consume(key, algorithm, cost);
      } catch (error) {
        throw this.#probeFailed(error);
      }
      // Answered without the network (the Redis store's refusal cache): not a probe.
      if (!isPromiseLike(probe)) return probe;
      return this.#probe(probe);
    }
    let result: MaybePromise<Decision>;
    try {
      result = this.inner.consume(key, algorithm, cost);
    } catch (error) {
      throw this.#failed(error);
    }
    if (isPromiseLike(result)) return result.then(this.#ok, this.#fail);
    this.#failuresInRow = 0;
    return result;
  }

  async #probe(pending: PromiseLike<Decision>): Promise<Decision> {
    this.#probing = true;
    try {
      const decision = await pending;
      if (this.#state === 'down') {
        this.#state = 'up';
        this.#failuresInRow = 0;
        this.#backoff = this.#minBackoff;
        this.#log.info('store_up', {
          store: this.kind,
          down_ms: this.#now() - this.#downSince,
          failed_requests: this.#failedWhileDown,
        });
      }
      return decision;
    } catch (error) {
      throw this.#probeFailed(error);
    } finally {
      this.#probing = false;
    }
  }

  #probeFailed(error: unknown): StoreUnavailableError {
    this.#failedWhileDown++;
    this.#backoff = Math.min(this.#backoff * 2, this.#maxBackoff);
    this.#retryAt = this.#now() + this.#backoff;
    return new StoreUnavailableError(`the ${this.kind} store is still down`, { cause: error });
  }

  #failed(error: unknown): StoreUnavailableError {
    if (this.#state === 'up') {
      this.#failuresInRow++;
      if (this.#failuresInRow >= this.#threshold) {
        this.#state = 'down';
        this.#downSince = this.#now();
        this.#failedWhileDown = this.#failuresInRow;
        this.#backoff = this.#minBackoff;
        this.#retryAt = this.#downSince + this.#backoff;
        this.shed = 0;
        this.#log.warn('store_down', {
          store: this.kind,
          error,
          fail_mode: this.#failMode,
          action: this.#failMode === 'open' ? 'admitting every request' : 'answering 503',
          retry_in_ms: this.#backoff,
        });
      }
    } else {
      this.#failedWhileDown++;
    }
    return new StoreUnavailableError(`the ${this.kind} store failed: ${(error as Error)?.message}`, {
      cause: error,
    });
  }

  trackedKeys(): number {
    return this.inner.trackedKeys();
  }

  clear(): MaybePromise<void> {
    return this.inner.clear();
  }

  close(): MaybePromise<void> {
    return this.inner.close();
  }
}
