/**
 * @module
 * The memory store (`RATE_LIMIT_STORE=memory`): the per-key algorithm state lives in a
 * fixed `SharedArrayBuffer` table (`shared-table.ts`) that every thread maps, so with
 * `WORKERS=N` one client's quota is one quota, not N. The main thread makes the table
 * (`createMemoryTable` in `stores/index.ts`), passes it to each worker in `workerData`, and
 * each thread wraps it in its own `SharedStore`; with one thread, the same table and
 * store, so one worker or four decide and bound alike. A table also keeps the heap
 * small: no object per key for the garbage collector to trace or promote (a `Map` of
 * entries did, and its churn under a flood of new keys filled the old generation).
 *
 * Exactness: a decision locks the key's two buckets (lower index first, so two threads
 * never wait on each other in a cycle), finds or claims the key's slot, decodes its state
 * (`shared-codecs.ts`), runs the unchanged algorithm and encodes the state back before
 * unlocking. Concurrent calls for one key are therefore exactly as if they ran one after
 * another, and decide as the single-threaded memory store does. Synchronous, like it:
 * a hot key's call allocates nothing but its `Decision`.
 *
 * Policy changes: each slot records a hash of the `algorithm.id` its state was made
 * under; a call under another id starts the key afresh (same parameters keep it).
 *
 * Bounded like the memory store, by a fixed table and the `maxKeys` cap (an Atomics
 * counter, so `trackedKeys()` is global). A new key takes, in this order:
 * 1. an empty slot of its less loaded bucket, if fewer than `maxKeys` keys are tracked;
 * 2. else the first idle slot of its two buckets (state back to full by `idleAt`, so
 *    nothing is lost);
 * 3. else the least recently used of those 16 slots (oldest last-use stamp, first in
 *    bucket order on a tie), whose key starts again with a full quota. An approximate
 *    LRU: oldest of the neighbourhood, not of the whole table;
 * 4. if all 16 are empty while `maxKeys` keys are tracked elsewhere (practically never
 *    at 80 % table load), an empty slot over the cap, so the count can pass `maxKeys` by
 *    a few; memory stays bounded by the table.
 * Idle keys are also swept on a timer. A thread judges idleness only under algorithms it
 * has used (every thread runs the same policies, so every thread can sweep every key).
 *
 * The sliding-window log keeps up to `limit` grant times per key in the table's log
 * region, `logCapacity` entries per slot (sized for the start-up policies): a policy
 * whose limit exceeds it, brought by a reload, is refused with an Error (never decided
 * inexactly).
 */
import type { Algorithm, Decision, Store } from '../types.js';
import { codecs, type StateCodec } from './shared-codecs.js';
import { lock, unlock } from './shared-lock.js';
import {
  ALGORITHM,
  BUCKET_SLOTS,
  bucketOf,
  createSharedTable,
  FINGERPRINT_HI,
  FINGERPRINT_LO,
  Fingerprint,
  type SharedTable,
  type SharedTableOptions,
  SLOT_INT32,
  TableView,
  TRACKED,
  USED,
} from './shared-table.js';

export { createSharedTable, DEFAULT_LOG_CAPACITY, type SharedTable } from './shared-table.js';

/** An algorithm this store has used, with what it needs to read and write its states. */
interface Binding {
  algorithm: Algorithm;
  /** Hash of `algorithm.id`, never 0 (0 marks an empty slot). */
  hash: number;
  codec: StateCodec<unknown>;
  /** Decoded state, reused by every call under this algorithm. */
  scratch: unknown;
}

export interface SharedStoreOptions {
  /** Clock in integer ms; tests inject one. */
  now?: () => number;
  /** How often this thread sweeps idle keys; 0 = never on a timer (tests call `sweep`). */
  sweepIntervalMs?: number;
}

export class SharedStore implements Store {
  readonly kind = 'memory';
  readonly table: SharedTable;
  /** Keys this thread dropped from a full neighbourhood while not idle (their quota reset early). */
  evicted = 0;
  /** Idle keys this thread forgot (swept, or replaced by a new key). */
  swept = 0;
  readonly #view: TableView;
  readonly #fingerprint = new Fingerprint();
  readonly #bindings = new WeakMap<Algorithm, Binding>();
  /** By id hash: how this thread reads a slot another key's algorithm wrote. */
  readonly #byHash = new Map<number, Binding>();
  #last: Binding | undefined;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout | undefined;

  /**
   * @param table - from `createSharedTable`, shared by every thread
   * @param [options.now=Date.now]
   * @param [options.sweepIntervalMs=10000]
   * @example
   * // main thread: const table = createSharedTable({ maxKeys: 100_000 }), into workerData
   * const store = new SharedStore(workerData.table);
   * const decision = store.consume('key:abc', algorithm, 1); // synchronous
   */
  constructor(table: SharedTable, { now = Date.now, sweepIntervalMs = 10_000 }: SharedStoreOptions = {}) {
    this.table = table;
    this.#view = new TableView(table);
    this.#now = now;
    if (sweepIntervalMs > 0) {
      this.#timer = setInterval(() => this.sweep(), sweepIntervalMs);
      this.#timer.unref();
    }
  }
  /**
   * A store over a table of its own, for one thread (tests, the algorithms bench).
   * @example
   * const store = SharedStore.create({ maxKeys: 1000, now: () => clock.now, sweepIntervalMs: 0 });
   */
  static create({
    maxKeys = 100_000,
    logCapacity,
    ...options
  }: SharedStoreOptions & Partial<SharedTableOptions> = {}): SharedStore {
    return new SharedStore(createSharedTable({ maxKeys, logCapacity }), options);
  }

  consume(key: string, algorithm: Algorithm, cost: number): Decision {
    const last = this.#last;
    const binding = last !== undefined && last.algorithm === algorithm ? last : this.#bind(algorithm);
    const now = this.#now();
    const fingerprint = this.#fingerprint.of(key, this.table.seed);
    const b1 = bucketOf(fingerprint.hi, this.table.buckets);
    const b2 = bucketOf(fingerprint.lo, this.table.buckets);
    const first = Math.min(b1, b2);
    const second = Math.max(b1, b2);
    const { locks } = this.#view;
    lock(locks, first);
    if (second !== first) lock(locks, second);
    try {
      const slot = this.#slotFor(fingerprint, b1, b2, binding, now);
      binding.codec.read(this.#view, slot, binding.scratch);
      const decision = algorithm.consume(binding.scratch, now, cost);
      binding.codec.write(this.#view, slot, binding.scratch);
      this.#view.header[slot * SLOT_INT32 + USED] = now;
      return decision;
    } finally {
      if (second !== first) unlock(locks, second);
      unlock(locks, first);
    }
  }

  /**
   * Checks that the table can hold `algorithm`'s state and registers it. `consume` does
   * this on first use; call it when policies load to refuse one there instead.
   * @throws {Error} for a sliding-window log whose limit exceeds the table's `logCapacity`
   */
  assertSupported(algorithm: Algorithm): void {
    this.#bind(algorithm);
  }

  /** Forgets every key whose state is back to full. @returns how many this call forgot. */
  sweep(now = this.#now()): number {
    const removed = this.#forget(true, now);
    this.swept += removed;
    return removed;
  }

  /** Keys tracked right now, by all threads together. */
  trackedKeys(): number {
    return Atomics.load(this.#view.counters, TRACKED);
  }

  /** Forgets every key, for all threads. */
  clear(): void {
    this.#forget(false, 0);
  }

  /** Stops this thread's sweep timer. The keys stay: other threads still use the table. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Empties every occupied slot (`idleOnly`: whose state is back to full), bucket by bucket. */
  #forget(idleOnly: boolean, now: number): number {
    const { header, locks, counters } = this.#view;
    let total = 0;
    for (let bucket = 0; bucket < this.table.buckets; bucket++) {
      let removed = 0;
      lock(locks, bucket);
      for (let slot = bucket * BUCKET_SLOTS; slot < (bucket + 1) * BUCKET_SLOTS; slot++) {
        const at = slot * SLOT_INT32 + ALGORITHM;
        if (header[at] !== 0 && (!idleOnly || this.#isIdle(slot, now))) {
          header[at] = 0;
          removed++;
        }
      }
      unlock(locks, bucket);
      Atomics.sub(counters, TRACKED, removed);
      total += removed;
    }
    return total;
  }

  #bind(algorithm: Algorithm): Binding {
    let binding = this.#bindings.get(algorithm);
    if (binding === undefined) {
      const codec = codecs[algorithm.name] as StateCodec<unknown>;
      const entries = codec.logEntries(algorithm.params);
      if (entries > this.table.logCapacity) {
        throw new Error(
          `${algorithm.id}: limit ${algorithm.params.limit} needs ${entries} log entries per key, ` +
            `but the memory store's table, sized when the limiter started, holds ${this.table.logCapacity}; ` +
            'restart the limiter with this policy in RATE_LIMIT_POLICIES (the table is sized for ' +
            'the largest sliding-window log it starts with), or use RATE_LIMIT_STORE=redis',
        );
      }
      const hash = this.#fingerprint.of(algorithm.id, 0).hi || 1;
      binding = { algorithm, hash, codec, scratch: codec.scratch() };
      this.#bindings.set(algorithm, binding);
      this.#byHash.set(hash, binding);
    }
    this.#last = binding;
    return binding;
  }

  /** The key's slot, its state valid under `binding` (fresh if new or made under another id). */
  #slotFor(fingerprint: Fingerprint, b1: number, b2: number, binding: Binding, now: number): number {
    const { header } = this.#view;
    const stamp = now >>> 0;
    let empty = -1;
    let emptyLoad = BUCKET_SLOTS;
    let oldest = -1;
    let oldestAge = -1;
    for (let bucket = b1; ; bucket = b2) {
      let load = 0;
      let free = -1;
      for (let slot = bucket * BUCKET_SLOTS; slot < (bucket + 1) * BUCKET_SLOTS; slot++) {
        const at = slot * SLOT_INT32;
        const hash = header[at + ALGORITHM];
        if (hash === 0) {
          if (free < 0) free = slot;
          continue;
        }
        load++;
        if (
          header[at + FINGERPRINT_HI] === fingerprint.hi &&
          header[at + FINGERPRINT_LO] === fingerprint.lo
        ) {
          if (hash !== binding.hash) this.#start(slot, binding, now);
          return slot;
        }
        const age = (stamp - (header[at + USED] as number)) >>> 0;
        if (age > oldestAge) {
          oldestAge = age;
          oldest = slot;
        }
      }
      if (free >= 0 && load < emptyLoad) {
        empty = free;
        emptyLoad = load;
      }
      if (bucket === b2) break;
    }
    let slot: number;
    if (empty >= 0 && this.#reserve()) {
      slot = empty;
    } else {
      const idle = this.#idleIn(b1, b2, now);
      if (idle >= 0) {
        slot = idle;
        this.swept++;
      } else if (oldest >= 0) {
        slot = oldest;
        this.evicted++;
      } else {
        slot = empty;
        Atomics.add(this.#view.counters, TRACKED, 1);
      }
    }
    header[slot * SLOT_INT32 + FINGERPRINT_HI] = fingerprint.hi;
    header[slot * SLOT_INT32 + FINGERPRINT_LO] = fingerprint.lo;
    this.#start(slot, binding, now);
    return slot;
  }

  /** Gives the slot a fresh state under `binding`. */
  #start(slot: number, binding: Binding, now: number) {
    this.#view.header[slot * SLOT_INT32 + ALGORITHM] = binding.hash;
    binding.codec.write(this.#view, slot, binding.algorithm.init(now));
  }

  /** Counts one more tracked key unless `maxKeys` are tracked already. */
  #reserve(): boolean {
    const { counters } = this.#view;
    for (let seen = Atomics.load(counters, TRACKED); seen < this.table.maxKeys; ) {
      const before = Atomics.compareExchange(counters, TRACKED, seen, seen + 1);
      if (before === seen) return true;
      seen = before;
    }
    return false;
  }

  /** The first idle slot of the two buckets, or -1. */
  #idleIn(b1: number, b2: number, now: number): number {
    for (let bucket = b1; ; bucket = b2) {
      for (let slot = bucket * BUCKET_SLOTS; slot < (bucket + 1) * BUCKET_SLOTS; slot++) {
        if (this.#isIdle(slot, now)) return slot;
      }
      if (bucket === b2) return -1;
    }
  }

  /** Whether an occupied slot's state is back to full (false under an algorithm this thread never used). */
  #isIdle(slot: number, now: number): boolean {
    const binding = this.#byHash.get(this.#view.header[slot * SLOT_INT32 + ALGORITHM] as number);
    if (binding === undefined) return false;
    binding.codec.read(this.#view, slot, binding.scratch);
    return binding.algorithm.idleAt(binding.scratch) <= now;
  }
}
