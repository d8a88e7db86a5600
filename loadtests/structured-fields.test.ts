import fc from 'fast-check';
import { parseList, serializeList, Token } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { parseSfList } from './structured-fields.js';

describe('the Structured Field parser agrees with a reference implementation', () => {
  it('parses what structured-headers serializes, and refuses what it refuses', () => {
    const name = fc.string({ maxLength: 12 }).filter((s) => /^[\x20-\x7e]*$/.test(s));
    const integer = fc.integer({ min: -999_999, max: 999_999_999 });
    const item = fc.tuple(
      name,
      fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_\-.*]{0,5}$/), integer, { maxKeys: 3 }),
    );
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 4 }), (list) => {
        const text = serializeList(list.map(([n, params]) => [n, new Map(Object.entries(params))]));
        const ours = parseSfList(text).map((i) => [i.value, i.params]);
        const theirs = parseList(text).map(([value, params]) => [value, Object.fromEntries(params)]);
        expect(ours).toEqual(theirs);
      }),
      { numRuns: 300, seed: 10 },
    );
    for (const bad of ['"a";r=1,', '"a"r=1', '"a";r=1 "b"', '"a;r=1', '"a";r=1234567890123456']) {
      expect(() => parseList(bad), bad).toThrow();
      expect(() => parseSfList(bad), bad).toThrow();
    }
    expect(parseSfList('tok;x=?1;y=:aGk=:')).toEqual([
      { value: { token: 'tok' }, params: { x: true, y: { bytes: 'aGk=' } } },
    ]);
    expect(parseList('tok')[0]?.[0]).toBeInstanceOf(Token);
  });
});
