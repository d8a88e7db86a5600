/**
 * Fuzz: the policies parser. Whatever document or file it is given, it returns a policy
 * set or throws `PolicyError` naming where the problem is; never another exception,
 * never a hang. Settings (cases, seed, replay) come from tests/helpers/fuzz.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { fuzz } from '../../tests/helpers/fuzz.js';
import { badValueArb, nearPoliciesArb, validPoliciesArb } from '../../tests/helpers/fuzz-policies.js';
import { compilePolicies, loadPoliciesFile, PolicyError, type PolicySet } from './policies.js';

/**
 * A generous bound on one parse of a few KB: a parse this slow means super-linear work
 * (a catastrophic regex, an alias bomb), not a noisy machine. Sync code cannot be
 * interrupted, so a real hang would stall the worker; this catches the road to one.
 */
const SLOW_MS = 2_000;

/** Calls `parse`; the result must be a PolicySet or a PolicyError whose problems name a path. */
function outcome(parse: () => PolicySet): PolicySet | PolicyError {
  const started = performance.now();
  let result: PolicySet | PolicyError;
  try {
    result = parse();
  } catch (error) {
    if (!(error instanceof PolicyError))
      throw new Error(`not a PolicyError: ${String(error)}`, { cause: error });
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) {
      expect(typeof problem.path).toBe('string');
      expect(problem.path.length).toBeGreaterThan(0);
      expect(typeof problem.message).toBe('string');
    }
    result = error;
  }
  expect(performance.now() - started).toBeLessThan(SLOW_MS);
  return result;
}

describe('policies documents (fuzz)', () => {
  it('any JSON document: a policy set or a PolicyError naming paths inside the document', async () => {
    await fuzz(
      'policies.json-any',
      fc.property(nearPoliciesArb, (doc) => {
        const result = outcome(() => compilePolicies(JSON.parse(JSON.stringify(doc) ?? 'null'), 'fuzz'));
        if (result instanceof PolicyError) {
          for (const { path } of result.problems) expect(path).toMatch(/^(\(document\)|default|clients)/);
        }
      }),
      { runs: 200 },
    );
  });

  it('a valid document compiles, and its effective document (GET /admin/config) compiles back to itself', async () => {
    await fuzz(
      'policies.json-valid-roundtrip',
      fc.property(validPoliciesArb, (doc) => {
        const set = compilePolicies(doc, 'fuzz');
        expect(set.byKey.size).toBe(Object.keys(doc.clients).length);
        const again = compilePolicies(JSON.parse(JSON.stringify(set.document)), 'fuzz');
        expect(again.document).toEqual(set.document);
      }),
      { runs: 200 },
    );
  });

  it('one bad field in a valid document: a PolicyError naming exactly that path', async () => {
    const field = fc.constantFrom('limit', 'window', 'burst', 'algorithm');
    await fuzz(
      'policies.json-bad-field-path',
      fc.property(
        validPoliciesArb.filter((d) => Object.values(d.clients).some((p) => !p.exempt)),
        field,
        badValueArb,
        fc.nat(),
        (doc, name, value, pick) => {
          const limited = Object.entries(doc.clients).filter(([, p]) => !p.exempt);
          const [client, policy] = limited[pick % limited.length] as [string, Record<string, unknown>];
          const broken = { ...doc, clients: { ...doc.clients, [client]: { ...policy, [name]: value } } };
          // Some "bad" values are fine for some fields (a string window, a valid number).
          let valid = true;
          try {
            compilePolicies({ clients: { [client]: { ...policy, [name]: value } } }, 'probe');
          } catch {
            valid = false;
          }
          const result = outcome(() => compilePolicies(broken, 'fuzz'));
          if (valid) return;
          expect(result).toBeInstanceOf(PolicyError);
          const paths = (result as PolicyError).problems.map((p) => p.path);
          expect(paths).toContain(`clients.${client}.${name}`);
        },
      ),
      { runs: 200 },
    );
  });
});

// ---- YAML files -------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'policies-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** YAML that has sunk parsers: alias bombs, tags, merges, complex keys, deep nesting, odd scalars. */
const HAZARDS = [
  'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n',
  'default: &p { algorithm: gcra, limit: 5, window: 1s }\nclients:\n  a: *p\n  b: { <<: *p, limit: 7 }\n',
  'default: !!js/function "function () {}"\n',
  'default: !!binary aGVsbG8=\n',
  'default: !custom { limit: 1 }\n',
  'default: {}\ndefault: {}\n',
  '? [a, b]\n: c\n',
  'clients: { __proto__: { exempt: true } }\n',
  'clients: { constructor: { exempt: true }, toString: { exempt: true } }\n',
  'default: { algorithm: gcra, limit: 1e999, window: .inf }\n',
  'default: { algorithm: gcra, limit: .nan, window: -1 }\n',
  'default: { algorithm: gcra, limit: 0x10, window: 0o17 }\n',
  '---\ndefault: {}\n---\nclients: {}\n',
  `${'['.repeat(3000)}${']'.repeat(3000)}\n`,
  `${'- '.repeat(500)}x\n`,
  '%YAML 1.1\n---\ndefault: { exempt: yes }\n',
  'default:\n\talgorithm: gcra\n',
  'default: "\\u0000"\r\nclients: ~\r\n',
  '*undefined_alias\n',
  '&a [*a]\n',
  '',
  '\uFEFF',
];

const MUTATION_CHARS = ':{}[],&*!|>-#\'"\n\t%@` ?<\\';
const yamlTextArb = fc.oneof(
  { weight: 2, arbitrary: validPoliciesArb.map((d) => stringify(d)) },
  { weight: 2, arbitrary: nearPoliciesArb.map((d) => stringify(d) ?? '') },
  { weight: 2, arbitrary: fc.constantFrom(...HAZARDS) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.oneof(
          validPoliciesArb.map((d) => stringify(d)),
          fc.constantFrom(...HAZARDS),
        ),
        fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.constantFrom(...MUTATION_CHARS)), {
          minLength: 1,
          maxLength: 6,
        }),
      )
      .map(([text, edits]) =>
        edits.reduce((t, [at, span, ch]) => {
          const i = at % (t.length + 1);
          return `${t.slice(0, i)}${ch}${t.slice(i + span)}`;
        }, text),
      ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);

describe('policies files (fuzz)', () => {
  it('any YAML text: a policy set or a PolicyError (line and column, or a path), quickly', async () => {
    let n = 0;
    await fuzz(
      'policies.yaml-file',
      fc.property(yamlTextArb, (text) => {
        const file = join(dir, `p${n++ % 8}.yaml`);
        writeFileSync(file, text);
        outcome(() => loadPoliciesFile(file));
      }),
      { runs: 120 },
    );
  });

  it('every hazard on its own', () => {
    for (const [i, text] of HAZARDS.entries()) {
      const file = join(dir, `hazard${i}.yaml`);
      writeFileSync(file, text);
      expect(() => outcome(() => loadPoliciesFile(file)), JSON.stringify(text.slice(0, 80))).not.toThrow();
    }
  });
});

describe('policies files: findings of the fuzzer (regressions)', () => {
  it('an alias bomb is a PolicyError at (yaml), not a ReferenceError out of yaml.toJS()', () => {
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, HAZARDS[0] as string);
    expect(() => loadPoliciesFile(file)).toThrow(PolicyError);
    expect(() => loadPoliciesFile(file)).toThrow(/\(yaml\): Excessive alias count/);
  });
});
