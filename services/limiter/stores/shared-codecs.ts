/**
 * @module
 * Each algorithm's per-key state as words of a shared-table slot (`shared-table.ts`), so
 * `SharedStore` can hand the unchanged algorithm a plain state object: decode into a
 * scratch object, let `algorithm.consume` mutate it, encode it back, all under the slot's
 * lock. The codecs are derived, when this module loads, from the `sharedState` layout of
 * every definition in the registry (`algorithms/<name>.ts`); a layout that does not fit
 * the slot or the state throws there, naming the algorithm.
 *
 * Every value is an integer below 2^53 (ms, unit·ms, counts), so a Float64 word holds it
 * exactly. A state with a log (the sliding-window log) keeps its words in the slot and
 * its entries in the slot's part of the log region: `read` hands the algorithm the whole
 * region and the slot's window of it (`base`, `capacity` = `logCapacity` ≥ the entries
 * it needs, so its ring never grows), and the algorithm writes its entries in place.
 */
import { mapAlgorithms } from '../algorithms/index.js';
import type { AlgorithmDefinition, AlgorithmParams } from '../types.js';
import { STATE_WORDS, stateAt, type TableView } from './shared-table.js';

export interface StateCodec<S> {
  /** Log entries one key needs in the table's log region (0: none). */
  logEntries(params: Readonly<AlgorithmParams>): number;
  /** A state to decode into: made once per algorithm per store, then reused. */
  scratch(): S;
  read(view: TableView, slot: number, into: S): void;
  write(view: TableView, slot: number, state: S): void;
}

/** The fields of a log state's window over the log region, which the codec sets. */
const LOG_WINDOW = ['times', 'base', 'capacity'];
/** The smallest valid parameters: a sample state to check a layout against. */
const SAMPLE_PARAMS = Object.freeze({ limit: 1, windowMs: 1, burst: 1 });

const noLog = () => 0;

/**
 * The codec of `definition`'s state, from its `sharedState` layout.
 * @throws {Error} naming `name` when the layout has more words than a slot
 *   (`STATE_WORDS`), names a field its state lacks or holds no number in, or leaves one
 *   of the state's fields out (the memory store would lose it)
 * @example
 * const codec = sharedStateCodec('token-bucket', tokenBucket);
 */
export function sharedStateCodec<S>(name: string, definition: AlgorithmDefinition<S>): StateCodec<S> {
  const { words, log } = definition.sharedState;
  const fields: readonly string[] = words;
  checkLayout(name, fields, log !== undefined, definition.create(SAMPLE_PARAMS).init(0));

  function readWords(view: TableView, slot: number, into: S) {
    const at = stateAt(slot);
    const state = into as Record<string, number>;
    for (let i = 0; i < fields.length; i++) state[fields[i] as string] = view.state[at + i] as number;
  }
  // A log's entries are already in place (or none: a fresh state has count 0).
  function write(view: TableView, slot: number, from: S) {
    const at = stateAt(slot);
    const state = from as Record<string, number>;
    for (let i = 0; i < fields.length; i++) view.state[at + i] = state[fields[i] as string] as number;
  }
  const zeros = () => Object.fromEntries(fields.map((field) => [field, 0]));

  if (log === undefined) return { logEntries: noLog, scratch: () => zeros() as S, read: readWords, write };
  return {
    logEntries: log,
    scratch: () => ({ ...zeros(), times: new Float64Array(0), base: 0, capacity: 0 }) as S,
    read(view, slot, into) {
      readWords(view, slot, into);
      const window = into as { times: Float64Array; base: number; capacity: number };
      window.times = view.logs;
      window.capacity = view.logCapacity;
      window.base = slot * view.logCapacity;
    },
    write,
  };
}

function checkLayout(name: string, words: readonly string[], hasLog: boolean, sample: unknown) {
  if (words.length > STATE_WORDS) {
    throw new Error(
      `${name}: sharedState.words lists ${words.length} fields (${words.join(', ')}), ` +
        `but a shared-table slot holds ${STATE_WORDS} state words`,
    );
  }
  const state = sample as Record<string, unknown>;
  const fields = Object.keys(state);
  const kept = hasLog ? [...words, ...LOG_WINDOW] : words;
  for (const field of kept) {
    if (!Object.hasOwn(state, field))
      throw new Error(`${name}: sharedState names "${field}", which its state (${fields.join(', ')}) lacks`);
  }
  for (const field of words) {
    if (typeof state[field] !== 'number')
      throw new Error(`${name}: sharedState.words names "${field}", which is not a number in its state`);
  }
  for (const field of fields) {
    if (!kept.includes(field)) {
      throw new Error(
        `${name}: its state's field "${field}" is in no sharedState word, so the memory store would lose it`,
      );
    }
  }
}

export const codecs = mapAlgorithms((definition, name) => sharedStateCodec(name, definition));
