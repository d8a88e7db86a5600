/**
 * @module
 * The memory store: per-key algorithm state in one `Map`, synchronous (no Promise per
 * decision) and bounded two ways, so a flood of unique keys (random API keys, spoofed
 * addresses) cannot grow memory without bound:
 * - idle keys are forgotten once their state is back to full (`sweep`, on a timer), which
 *   changes no decision: a forgotten key starts from the same full state;
 * - a hard cap on tracked keys: beyond `maxKeys` the least recently used key is dropped
 *   first. A dropped key that was not idle starts again with a full quota, so the cap is
 *   a memory bound, not a policy; active clients are the last to go.
 *
 * Recency is an intrusive doubly linked list (oldest at `head`), so evicting is O(1)
 * (a `Map`'s own insertion order is not: V8 leaves deleted slots at its front until the
 * next rehash, and walking past them made a flood of new keys quadratic). It is kept
 * coarsely: a key moves to the young end at most once per `touchEveryMs`, so a hot key
 * costs one `Map.get` per decision.
 */
import type { Algorithm, Decision, Store } from '../types.js';

interface Entry {
  key: string;
  state: unknown;
  algorithm: Algorithm;
  /** When the entry last moved to the young end of the list. */
  touched: number;
  older: Entry | undefined;
  newer: Entry | undefined;
}

export interface MemoryStoreOptions {
  /** Hard cap on tracked keys (least recently used dropped first). */
  maxKeys?: number;
  /** Clock in integer ms; tests inject one. */
  now?: () => number;
  /** How often idle keys are swept; 0 = never on a timer (tests call `sweep`). */
  sweepIntervalMs?: number;
  /** Recency granularity: a key moves in the LRU order at most this often. */
  touchEveryMs?: number;
}

export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly maxKeys: number;
  /** Keys dropped by the cap while not idle (their quota was reset early). */
  evicted = 0;
  /** Idle keys forgotten by `sweep`. */
  swept = 0;
  readonly #entries = new Map<string, Entry>();
  /** Least recently used. */
  #head: Entry | undefined;
  /** Most recently used. */
  #tail: Entry | undefined;
  readonly #now: () => number;
  readonly #touchEveryMs: number;
  readonly #timer: NodeJS.Timeout | undefined;

  /**
   * @param [options.maxKeys=100000]
   * @param [options.now=Date.now]
   * @param [options.sweepIntervalMs=10000]
   * @param [options.touchEveryMs=1000]
   * @example
   * const store = new MemoryStore({ maxKeys: 100_000 });
   * const decision = store.consume('key:abc', algorithm, 1); // synchronous
   */
  constructor({
    maxKeys = 100_000,
    now = Date.now,
    sweepIntervalMs = 10_000,
    touchEveryMs = 1_000,
  }: MemoryStoreOptions = {}) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1)
      throw new Error(`maxKeys must be a positive integer; got ${maxKeys}`);
    this.maxKeys = maxKeys;
    this.#now = now;
    this.#touchEveryMs = touchEveryMs;
    if (sweepIntervalMs > 0) {
      this.#timer = setInterval(() => this.sweep(), sweepIntervalMs);
      this.#timer.unref();
    }
  }

  consume(key: string, algorithm: Algorithm, cost: number): Decision {
    const now = this.#now();
    const entries = this.#entries;
    let entry = entries.get(key);
    if (entry === undefined) {
      entry = {
        key,
        state: algorithm.init(now),
        algorithm,
        touched: now,
        older: undefined,
        newer: undefined,
      };
      entries.set(key, entry);
      this.#append(entry);
      if (entries.size > this.maxKeys) this.#evictOldest(now);
    } else {
      if (entry.algorithm !== algorithm) {
        // Same parameters (a reload that kept this policy): keep the state; else start afresh.
        if (entry.algorithm.id !== algorithm.id) entry.state = algorithm.init(now);
        entry.algorithm = algorithm;
      }
      if (now - entry.touched >= this.#touchEveryMs) {
        entry.touched = now;
        if (entry !== this.#tail) {
          this.#unlink(entry);
          this.#append(entry);
        }
      }
    }
    return algorithm.consume(entry.state, now, cost);
  }

  /** Forgets every key whose state is back to full. @returns how many were forgotten. */
  sweep(now = this.#now()): number {
    let removed = 0;
    for (let entry = this.#head; entry !== undefined; ) {
      const next = entry.newer;
      if (entry.algorithm.idleAt(entry.state) <= now) {
        this.#remove(entry);
        removed++;
      }
      entry = next;
    }
    this.swept += removed;
    return removed;
  }

  trackedKeys(): number {
    return this.#entries.size;
  }

  /** The state kept for `key` (tests and debugging). */
  peek(key: string): unknown {
    return this.#entries.get(key)?.state;
  }

  clear(): void {
    this.#entries.clear();
    this.#head = undefined;
    this.#tail = undefined;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.clear();
  }

  #evictOldest(now: number) {
    const oldest = this.#head;
    if (!oldest) return;
    this.#remove(oldest);
    if (oldest.algorithm.idleAt(oldest.state) > now) this.evicted++;
    else this.swept++;
  }

  #remove(entry: Entry) {
    this.#entries.delete(entry.key);
    this.#unlink(entry);
  }

  #append(entry: Entry) {
    entry.older = this.#tail;
    entry.newer = undefined;
    if (this.#tail) this.#tail.newer = entry;
    else this.#head = entry;
    this.#tail = entry;
  }

  #unlink(entry: Entry) {
    if (entry.older) entry.older.newer = entry.newer;
    else this.#head = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.#tail = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }
}
