/**
 * The codecs derived from the algorithms' `sharedState` layouts: every registered state
 * goes through a real table slot and back unchanged, and a layout that does not fit the
 * slot or its state is refused when the codec is built, naming the algorithm and field.
 */
import { describe, expect, it } from 'vitest';
import { CASE_START } from '../algorithms/cases.js';
import { ALGORITHM_NAMES, createAlgorithm } from '../algorithms/index.js';
import { tokenBucket } from '../algorithms/token-bucket.js';
import type { AlgorithmDefinition, SharedStateLayout } from '../types.js';
import { codecs, sharedStateCodec } from './shared-codecs.js';
import { createSharedTable, STATE_WORDS, TableView } from './shared-table.js';

const params = { limit: 5, windowMs: 1000, burst: 5 };

/** A definition whose keys start as `state`, kept as `layout` says (only built, never run). */
function holding<S extends object>(state: S, layout: SharedStateLayout<S>): AlgorithmDefinition<S> {
  return {
    create: () => ({
      maxCost: 1,
      init: () => ({ ...state }),
      consume: () => {
        throw new Error('only the codec is built here');
      },
      idleAt: () => 0,
    }),
    sharedState: layout,
    redis: tokenBucket.redis,
  };
}

describe('the codecs derived from the registry', () => {
  for (const name of ALGORITHM_NAMES) {
    it(`${name}: a state written to a slot reads back equal, at that slot`, () => {
      const view = new TableView(createSharedTable({ maxKeys: 10, logCapacity: params.limit }));
      const algorithm = createAlgorithm(name, params);
      const codec = codecs[name];
      const state = algorithm.init(CASE_START);
      // A few grants, so no field is still at its zero.
      for (let at = CASE_START + 7; at < CASE_START + 10; at++) algorithm.consume(state, at, 1);
      codec.write(view, 3, state);
      const other = algorithm.init(CASE_START);
      codec.write(view, 4, other);
      const read = codec.scratch();
      codec.read(view, 3, read);
      if (codec.logEntries(algorithm.params) === 0) {
        expect(read).toEqual(state);
      } else {
        // The log's window is the slot's part of the table's region, not the state's own array.
        const { times, base, capacity, ...words } = read as Record<string, unknown>;
        const { times: _, base: __, capacity: ___, ...written } = state as Record<string, unknown>;
        expect(words).toEqual(written);
        expect(times).toBe(view.logs);
        expect([base, capacity]).toEqual([3 * params.limit, params.limit]);
      }
    });
  }
});

describe('sharedStateCodec refuses a layout that does not fit', () => {
  it(`more words than a slot holds (${STATE_WORDS})`, () => {
    const fourWords = holding({ a: 0, b: 0, c: 0, d: 0 }, { words: ['a', 'b', 'c', 'd'] });
    expect(() => sharedStateCodec('four-words', fourWords)).toThrow(
      'four-words: sharedState.words lists 4 fields (a, b, c, d), but a shared-table slot holds 3 state words',
    );
  });

  it('a word naming a field its state lacks', () => {
    // @ts-expect-error: the type checker refuses it first
    const typo = holding({ level: 0, at: 0 }, { words: ['level', 'att'] });
    expect(() => sharedStateCodec('typo', typo)).toThrow(
      'typo: sharedState names "att", which its state (level, at) lacks',
    );
  });

  it('a word naming a field that is no number', () => {
    // @ts-expect-error: the type checker refuses it first
    const array = holding({ times: new Float64Array(1), count: 0 }, { words: ['times', 'count'] });
    expect(() => sharedStateCodec('array', array)).toThrow(
      'array: sharedState.words names "times", which is not a number in its state',
    );
  });

  it('a state field in no word (the memory store would lose it)', () => {
    const partial = holding({ level: 0, at: 0 }, { words: ['level'] });
    expect(() => sharedStateCodec('partial', partial)).toThrow(
      'partial: its state\'s field "at" is in no sharedState word, so the memory store would lose it',
    );
  });

  it('a log for a state that is no window over the log region', () => {
    const noWindow = holding({ head: 0, count: 0 }, { words: ['head', 'count'], log: (p) => p.limit });
    expect(() => sharedStateCodec('no-window', noWindow)).toThrow(
      'no-window: sharedState names "times", which its state (head, count) lacks',
    );
  });
});
