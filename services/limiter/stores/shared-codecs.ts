/**
 * @module
 * Each algorithm's per-key state as words of a shared-table slot (`shared-table.ts`), so
 * `SharedStore` can hand the unchanged algorithm a plain state object: decode into a
 * scratch object, let `algorithm.consume` mutate it, encode it back, all under the slot's
 * lock. A typed table: a new algorithm does not compile until it has a codec here.
 *
 * Every value is an integer below 2^53 (ms, unit·ms, counts), so a Float64 word holds it
 * exactly. The sliding-window log keeps `head` and `count` in the slot and its grant
 * times in the slot's log region: `read` hands the algorithm the whole region and the
 * slot's window of it (`base`, `logCapacity` ≥ limit entries, so its ring never needs to
 * grow), and the algorithm writes its entries in place.
 */
import type { FixedWindowState } from '../algorithms/fixed-window.js';
import type { GcraState } from '../algorithms/gcra.js';
import type { SlidingCounterState } from '../algorithms/sliding-window-counter.js';
import type { SlidingLogState } from '../algorithms/sliding-window-log.js';
import type { TokenBucketState } from '../algorithms/token-bucket.js';
import type { AlgorithmName, AlgorithmParams } from '../types.js';
import { stateAt, type TableView } from './shared-table.js';

export interface StateCodec<S> {
  /** Log entries one key needs in the table's log region (0: none). */
  logEntries(params: Readonly<AlgorithmParams>): number;
  /** A state to decode into: made once per algorithm per store, then reused. */
  scratch(): S;
  read(view: TableView, slot: number, into: S): void;
  write(view: TableView, slot: number, state: S): void;
}

const noLog = () => 0;
const word = (view: TableView, index: number) => view.state[index] as number;

/**
 * The codec of a state made of numeric fields only, one word each in `fields` order
 * (token bucket, fixed window, sliding counter, GCRA).
 */
function numericFields<S extends object>(...fields: (keyof S & string)[]): StateCodec<S> {
  return {
    logEntries: noLog,
    scratch: () => Object.fromEntries(fields.map((field) => [field, 0])) as S,
    read(view, slot, into) {
      const at = stateAt(slot);
      const state = into as Record<string, number>;
      for (let i = 0; i < fields.length; i++) state[fields[i] as string] = word(view, at + i);
    },
    write(view, slot, from) {
      const at = stateAt(slot);
      const state = from as Record<string, number>;
      for (let i = 0; i < fields.length; i++) view.state[at + i] = state[fields[i] as string] as number;
    },
  };
}

const tokenBucket = numericFields<TokenBucketState>('level', 'at');
const fixedWindow = numericFields<FixedWindowState>('start', 'count');
const slidingWindowCounter = numericFields<SlidingCounterState>('start', 'current', 'previous');
const gcra = numericFields<GcraState>('tat', 'frac');

const slidingWindowLog: StateCodec<SlidingLogState> = {
  logEntries: (params) => params.limit,
  scratch: () => ({ times: new Float64Array(0), base: 0, capacity: 0, head: 0, count: 0 }),
  read(view, slot, into) {
    const at = stateAt(slot);
    into.head = word(view, at);
    into.count = word(view, at + 1);
    into.times = view.logs;
    into.capacity = view.logCapacity;
    into.base = slot * view.logCapacity;
  },
  // The entries are already in place (or none: a fresh state has count 0).
  write(view, slot, state) {
    const at = stateAt(slot);
    view.state[at] = state.head;
    view.state[at + 1] = state.count;
  },
};

export const codecs = {
  'token-bucket': tokenBucket,
  'fixed-window': fixedWindow,
  'sliding-window-log': slidingWindowLog,
  'sliding-window-counter': slidingWindowCounter,
  gcra,
} satisfies Record<AlgorithmName, StateCodec<unknown>>;
