/**
 * @module
 * The shared key table behind `SharedStore`: fixed-size, preallocated `SharedArrayBuffer`s
 * that every worker thread maps, so one client's quota is one quota across threads.
 *
 * Layout (all sized once from `maxKeys`, never grown):
 * - **headers**: `buckets × 8` slots of 4 Int32 words: the key's 64-bit fingerprint as two
 *   words, a 32-bit hash of the algorithm id (0 = empty) and the last-used stamp (the
 *   clock in ms modulo 2^32). A bucket's headers are 128 bytes, two cache lines, so a
 *   lookup reads little memory.
 * - **states**: per slot, 3 Float64 words of algorithm state (see `shared-codecs.ts`).
 *   `buckets = ceil(1.25 × maxKeys / 8)`: at the key cap the table is 80 % full.
 *   Together 40 bytes per slot: 100 000 keys, 125 000 slots, 5 MB.
 * - **locks**: one Int32 mutex word per bucket (`shared-lock.ts`).
 * - **counters**: the tracked-key count, shared by all threads.
 * - **logs**: `logCapacity` Float64 entries per slot for the sliding-window log's grant
 *   times (slot i owns entries `[i × logCapacity, (i + 1) × logCapacity)`). Allocated at
 *   full size but committed by the OS only as pages are first written: 100 000 keys at
 *   the default 128 entries reserve 128 MB of address space, and cost RSS only for the
 *   slots that ever held a sliding-log key.
 *
 * Keys: a key may sit in either of two buckets (two-choice hashing, from the two halves of
 * its fingerprint) and is inserted into the less loaded one, which keeps buckets even:
 * filling a 100 000-key table to its cap finds both buckets full for about 16 keys
 * (0.02 %, simulated), the only evictions before the cap.
 *
 * Fingerprints: the 64-bit hash is bryc's cyrb53 kept at its full two 32-bit lanes, over
 * the key's UTF-16 code units, seeded per table with a random 32-bit value. Two keys share
 * a quota only if all 64 bits agree; treating the lanes as uniform and independent, a
 * new key matches one of the ≤ 16 fingerprints in its two buckets with probability
 * ≤ 16 / 2^64 ≈ 9 × 10⁻¹⁹, and among 100 000 tracked keys the chance that any two share a
 * fingerprint is about n² / 2^65 ≈ 2.7 × 10⁻¹⁰. The hash is not cryptographic: someone who
 * knew the seed (it never leaves the process) could craft two keys that collide.
 */

/** Slots per bucket: a key lives in one of the 8 slots of one of its two buckets. */
export const BUCKET_SLOTS = 8;
/** Int32 header words per slot (the stride of `TableView.header`). */
export const SLOT_INT32 = 4;
/** Float64 state words per slot (the sliding-window counter needs 3). */
export const STATE_WORDS = 3;
/** Header word offsets within a slot. */
export const FINGERPRINT_HI = 0;
export const FINGERPRINT_LO = 1;
/** Hash of the algorithm id the state was made under; 0 marks an empty slot. */
export const ALGORITHM = 2;
/** Clock (ms) modulo 2^32 when the slot was last used. */
export const USED = 3;
/** Index in `counters` of the tracked-key count. */
export const TRACKED = 0;
/** Slots per tracked key. */
const SLACK = 1.25;
/** Grant times kept per key unless the start-up policies need more (`stores/index.ts`). */
export const DEFAULT_LOG_CAPACITY = 128;

/** Structured-cloneable (only SharedArrayBuffers and numbers): passed to workers via workerData. */
export interface SharedTable {
  /** Hard cap on tracked keys. */
  readonly maxKeys: number;
  /** Buckets of {@link BUCKET_SLOTS} slots. */
  readonly buckets: number;
  /** Grant times kept per key for the sliding-window log: its largest supported limit. */
  readonly logCapacity: number;
  /** Seed of the key fingerprints. */
  readonly seed: number;
  readonly headers: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
  readonly locks: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
  readonly logs: SharedArrayBuffer;
}

export interface SharedTableOptions {
  /** Hard cap on tracked keys (the memory store's `RATE_LIMIT_MAX_KEYS`). */
  maxKeys: number;
  /** Largest sliding-window-log `limit` the table can hold (0: none). */
  logCapacity?: number;
}

/**
 * @param options.maxKeys - hard cap on tracked keys
 * @param [options.logCapacity=DEFAULT_LOG_CAPACITY] - largest sliding-window-log limit supported
 * @throws {Error} naming a bad option
 * @example
 * const table = createSharedTable({ maxKeys: config.rateLimitMaxKeys });
 * new Worker(url, { workerData: { table } }); // each thread: new SharedStore(table)
 */
export function createSharedTable({
  maxKeys,
  logCapacity = DEFAULT_LOG_CAPACITY,
}: SharedTableOptions): SharedTable {
  if (!Number.isInteger(maxKeys) || maxKeys < 1)
    throw new Error(`maxKeys must be a positive integer; got ${maxKeys}`);
  if (!Number.isInteger(logCapacity) || logCapacity < 0)
    throw new Error(`logCapacity must be a non-negative integer; got ${logCapacity}`);
  const buckets = Math.ceil((maxKeys * SLACK) / BUCKET_SLOTS);
  const slots = buckets * BUCKET_SLOTS;
  return {
    maxKeys,
    buckets,
    logCapacity,
    seed: crypto.getRandomValues(new Int32Array(1))[0] as number,
    headers: new SharedArrayBuffer(slots * SLOT_INT32 * 4),
    states: new SharedArrayBuffer(slots * STATE_WORDS * 8),
    locks: new SharedArrayBuffer(buckets * 4),
    counters: new SharedArrayBuffer(4),
    logs: new SharedArrayBuffer(slots * logCapacity * 8),
  };
}

/** One thread's typed views over a {@link SharedTable}. */
export class TableView {
  readonly header: Int32Array;
  readonly state: Float64Array;
  readonly locks: Int32Array;
  readonly counters: Int32Array;
  /** The whole log region: slot i's grant times are entries `[i × logCapacity, (i + 1) × logCapacity)`. */
  readonly logs: Float64Array;
  readonly logCapacity: number;

  constructor(table: SharedTable) {
    this.header = new Int32Array(table.headers);
    this.state = new Float64Array(table.states);
    this.locks = new Int32Array(table.locks);
    this.counters = new Int32Array(table.counters);
    this.logs = new Float64Array(table.logs);
    this.logCapacity = table.logCapacity;
  }
}

/** Index in `TableView.state` of the slot's first state word. */
export const stateAt = (slot: number) => slot * STATE_WORDS;

/** One of `buckets` buckets from a 32-bit hash (multiply-shift, no modulo bias to speak of). */
export const bucketOf = (hash: number, buckets: number) => Math.floor(((hash >>> 0) * buckets) / 2 ** 32);

/**
 * A reusable 64-bit fingerprint (two Int32 lanes of cyrb53): one per store, refilled by
 * {@link Fingerprint.of} on every call, so hashing a key allocates nothing.
 */
export class Fingerprint {
  hi = 0;
  lo = 0;

  of(text: string, seed: number): this {
    let h1 = 0xdeadbeef ^ seed;
    let h2 = 0x41c6ce57 ^ seed;
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ unit, 2654435761);
      h2 = Math.imul(h2 ^ unit, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    this.hi = h1 | 0;
    this.lo = h2 | 0;
    return this;
  }
}
