/**
 * Fuzz: the `UPSTREAMS` parser. Any text gives a non-empty list of distinct, well-formed
 * upstreams or an Error naming the bad entry; a list built from known parts parses back
 * to those parts. Settings (cases, seed, replay) come from tests/helpers/fuzz.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzz } from '../../tests/helpers/fuzz.js';
import { parseUpstreams } from './upstreams.js';

const nameArb = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/);
const hostArb = fc.oneof(
  fc.constantFrom('127.0.0.1', 'localhost', 'node-1', '[::1]', 'example.com'),
  fc.domain(),
);
const entryArb = fc.record(
  {
    name: nameArb,
    scheme: fc.constantFrom('http', 'https'),
    host: hostArb,
    port: fc.integer({ min: 1, max: 65535 }),
    weight: fc.integer({ min: 1, max: 1000 }),
  },
  { requiredKeys: ['scheme', 'host', 'port'] },
);

const JUNK = [
  '=',
  '*',
  ',',
  ':',
  '/',
  '?',
  '#',
  '@',
  ' ',
  '%',
  '[',
  ']',
  'ftp://',
  'http://',
  '*0',
  '*1001',
  '==',
];

describe('parseUpstreams (fuzz)', () => {
  it('a list of [name=]url[*weight] entries parses to exactly those upstreams', async () => {
    await fuzz(
      'upstreams.valid-list',
      fc.property(
        fc.uniqueArray(entryArb, {
          minLength: 1,
          maxLength: 6,
          selector: (e) => e.name ?? `${e.host}:${e.port}`,
        }),
        fc.constantFrom(',', ', ', ' ,'),
        (entries, separator) => {
          const origins = entries.map((e) => new URL(`${e.scheme}://${e.host}:${e.port}`));
          // Two unnamed entries whose host:port coincide (default ports vanish) would collide.
          fc.pre(new Set(entries.map((e, i) => e.name ?? (origins[i] as URL).host)).size === entries.length);
          const text = entries
            .map(
              (e) =>
                `${e.name ? `${e.name}=` : ''}${e.scheme}://${e.host}:${e.port}${e.weight ? `*${e.weight}` : ''}`,
            )
            .join(separator);
          const specs = parseUpstreams(text);
          expect(specs).toEqual(
            entries.map((e, i) => ({
              name: e.name ?? (origins[i] as URL).host,
              url: (origins[i] as URL).origin,
              weight: e.weight ?? 1,
            })),
          );
        },
      ),
      { runs: 200 },
    );
  });

  it('any text: distinct, well-formed upstreams, or an Error quoting the bad entry', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc
        .tuple(
          fc.array(entryArb, { minLength: 1, maxLength: 3 }),
          fc.array(fc.tuple(fc.nat(), fc.constantFrom(...JUNK)), { maxLength: 4 }),
        )
        .map(([entries, edits]) =>
          edits.reduce(
            (t, [at, junk]) => {
              const i = at % (t.length + 1);
              return `${t.slice(0, i)}${junk}${t.slice(i)}`;
            },
            entries
              .map(
                (e) =>
                  `${e.name ? `${e.name}=` : ''}${e.scheme}://${e.host}:${e.port}${e.weight ? `*${e.weight}` : ''}`,
              )
              .join(','),
          ),
        ),
    );
    await fuzz(
      'upstreams.any-text',
      fc.property(text, (value) => {
        let specs: ReturnType<typeof parseUpstreams>;
        try {
          specs = parseUpstreams(value);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message.length).toBeGreaterThan(0);
          return;
        }
        expect(specs.length).toBeGreaterThan(0);
        expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
        for (const spec of specs) {
          const url = new URL(spec.url);
          expect(['http:', 'https:']).toContain(url.protocol);
          expect(url.origin).toBe(spec.url);
          expect(Number.isInteger(spec.weight) && spec.weight >= 1 && spec.weight <= 1000).toBe(true);
          expect(spec.name).toMatch(/^\S+$/);
        }
      }),
      { runs: 400 },
    );
  });
});
