/**
 * @module
 * Rate-limit policies: the YAML file (`RATE_LIMIT_POLICIES`) or the JSON document of
 * `PUT /admin/config {"policies": ...}`, validated by zod and compiled once into the
 * lookup table the data plane reads.
 *
 * ```yaml
 * default: { algorithm: token-bucket, limit: 10, window: 1s }
 * clients:                      # keyed by X-API-Key (the name, or `key:` when given)
 *   good-user:       { algorithm: token-bucket, limit: 20, window: 1s }
 *   internal-config: { algorithm: fixed-window, limit: 1000, window: 60s }
 *   partner:         { exempt: true }
 * ```
 *
 * Every algorithm reads `limit` per `window` and an optional `burst` (token-bucket
 * capacity, GCRA tolerance; defaults to `limit`; the window algorithms ignore it). A
 * named client's requests share one quota; everyone else (no key, or a key no client
 * has) gets the default policy, one quota per API key or per client address.
 *
 * A policy's name (headers, metrics) is the client name, or `default`; the metrics'
 * `client` label is the client name, or `anonymous`. Raw API keys never appear in
 * either: give a client a `key:` when its key is a secret.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../shared/duration.js';
import { problemJsonPrefix } from '../shared/problem.js';
import { ALGORITHM_NAMES, createAlgorithm } from './algorithms/index.js';
import { PARAM_BOUNDS } from './algorithms/params.js';
import type { Algorithm, Store } from './types.js';

/** `1s`, `60s`, `1m`, `500ms`, or a number of milliseconds → whole milliseconds. */
const window = z.union([z.number(), z.string()]).transform((value, ctx) => {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
  const { min, max } = PARAM_BOUNDS.windowMs;
  if (!Number.isInteger(ms) || ms < min || ms > max) {
    ctx.addIssue({ code: 'custom', message: `window must be a whole number of ms from ${min} ms to 7 days` });
    return z.NEVER;
  }
  return ms;
});

const count = (field: 'limit' | 'burst') =>
  z
    .number({ error: `${field} must be a number` })
    .int(`${field} must be a whole number`)
    .min(PARAM_BOUNDS[field].min, `${field} must be at least ${PARAM_BOUNDS[field].min}`)
    .max(PARAM_BOUNDS[field].max, `${field} must be at most ${PARAM_BOUNDS[field].max}`);

/** One policy: an algorithm with its parameters, or `exempt: true`. */
export const policySchema = z
  .object({
    exempt: z.boolean().optional(),
    algorithm: z
      .string()
      .refine((name) => (ALGORITHM_NAMES as string[]).includes(name), {
        error: (issue) => `unknown algorithm "${issue.input}"; expected one of ${ALGORITHM_NAMES.join(', ')}`,
      })
      .optional(),
    limit: count('limit').optional(),
    window: window.optional(),
    burst: count('burst').optional(),
    /** The X-API-Key of a named client, when it is not the name itself. */
    key: z.string().min(1).max(256).optional(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    if (policy.exempt) return;
    for (const field of ['algorithm', 'limit', 'window'] as const) {
      if (policy[field] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field} is required (or set exempt: true)`,
        });
      }
    }
  });

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RESERVED = new Set(['default', 'anonymous']);

/** The whole document. `default` falls back to {@link DEFAULT_POLICIES}' when left out. */
export const policiesSchema = z
  .object({
    default: policySchema.optional(),
    clients: z.record(z.string(), policySchema).default({}),
  })
  .strict()
  .superRefine((doc, ctx) => {
    const seen = new Map<string, string>();
    for (const [name, policy] of Object.entries(doc.clients)) {
      if (!CLIENT_NAME.test(name) || RESERVED.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', name],
          message: RESERVED.has(name)
            ? 'client names "default" and "anonymous" are reserved'
            : 'a client name is 1–64 letters, digits, dot, dash or underscore (it appears in headers and metrics)',
        });
      }
      const key = policy.key ?? name;
      const other = seen.get(key);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', name, 'key'],
          message: `clients "${other}" and "${name}" have the same key`,
        });
      }
      seen.set(key, name);
    }
    if (doc.default?.key !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['default', 'key'], message: 'the default policy has no key' });
    }
  });

export type PolicyInput = z.input<typeof policySchema>;
export type PoliciesInput = z.input<typeof policiesSchema>;
export type PoliciesDocument = z.output<typeof policiesSchema>;

/** When `RATE_LIMIT_POLICIES` is unset: DESIGN.md's default, 10 per second per client, bursts of 10. */
export const DEFAULT_POLICIES: PoliciesInput = {
  default: { algorithm: 'token-bucket', limit: 10, window: '1s' },
  clients: {},
};
const DEFAULT_POLICY = { algorithm: 'token-bucket', limit: 10, window: 1000 } as const;

/** One compiled policy, ready for the data plane. */
export interface Policy {
  /** `default` or the client's name: the policy name in headers and the `policy` label. */
  readonly name: string;
  /** The `client` metric label: the client's name, or `anonymous` for the default policy. */
  readonly client: string;
  /** `undefined` for an exempt client. */
  readonly algorithm: Algorithm | undefined;
  /** Store key prefix: a named client's requests share one key. */
  readonly shared: boolean;
  /** `RateLimit-Policy` value, e.g. `"default";q=10;w=1` (empty when exempt). */
  readonly policyHeader: string;
  /** `"default";r=` : the `RateLimit` value up to the remaining count. */
  readonly rateLimitPrefix: string;
  /** The problem body up to the retry-after seconds (see `headers.ts`). */
  readonly problemPrefix: string;
  /** How the policy reads in the problem body: `10 requests per 1s (token-bucket)`. */
  readonly summary: string;
}

/** The compiled table: lookups by API key, the default for everyone else. */
export interface PolicySet {
  readonly default: Policy;
  /** X-API-Key → the client's policy. */
  readonly byKey: ReadonlyMap<string, Policy>;
  /** The longest client key: longer X-API-Key values skip the lookup. */
  readonly maxKeyLength: number;
  /** The validated document, windows in ms (`GET /admin/config`). */
  readonly document: PoliciesDocument;
}

/**
 * The policies `store` cannot keep exactly, as PolicyError problems (empty when all fit):
 * checked at start-up and on every reload, before the set goes live.
 */
export function unsupportedPolicies(set: PolicySet, store: Store): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (!store.assertSupported) return problems;
  const named = [...set.byKey.values()].map((policy) => [`clients.${policy.name}`, policy] as const);
  for (const [path, policy] of [['default', set.default] as const, ...named]) {
    if (!policy.algorithm) continue;
    try {
      store.assertSupported(policy.algorithm);
    } catch (error) {
      problems.push({ path, message: (error as Error).message });
    }
  }
  return problems;
}

/** Why a policies document was refused: the path inside it and the reason, per problem. */
export class PolicyError extends Error {
  constructor(
    readonly source: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(
      `invalid rate-limit policies in ${source}:\n  ${problems.map((p) => `${p.path}: ${p.message}`).join('\n  ')}`,
    );
    this.name = 'PolicyError';
  }
}

const pathOf = (path: readonly PropertyKey[]) =>
  path.length === 0 ? '(document)' : path.map(String).join('.');

/** `1000` ms → `1s`, `90000` → `90s`, `500` → `500ms`. */
export const formatWindow = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

function compilePolicy(name: string, input: z.output<typeof policySchema>, isDefault: boolean): Policy {
  const client = isDefault ? 'anonymous' : name;
  if (input.exempt) {
    return {
      name,
      client,
      algorithm: undefined,
      shared: !isDefault,
      policyHeader: '',
      rateLimitPrefix: '',
      problemPrefix: '',
      summary: 'exempt',
    };
  }
  const limit = input.limit as number;
  const windowMs = input.window as number;
  const algorithm = createAlgorithm(input.algorithm as string, {
    limit,
    windowMs,
    burst: input.burst ?? limit,
  });
  // `w` is an Integer in the draft: whole seconds, at least 1.
  const w = Math.max(1, Math.round(windowMs / 1000));
  const summary = `${limit} requests per ${formatWindow(windowMs)} (${algorithm.name})`;
  const problemPrefix = problemJsonPrefix(
    {
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Too Many Requests',
      status: 429,
      detail: `over the rate limit of policy "${name}": ${summary}`,
      policy: name,
      'violated-policies': [name],
    },
    'retry_after',
  );
  return {
    name,
    client,
    algorithm,
    shared: !isDefault,
    policyHeader: `"${name}";q=${limit};w=${w}`,
    rateLimitPrefix: `"${name}";r=`,
    problemPrefix,
    summary,
  };
}

type PolicyOutput = z.output<typeof policySchema>;

/**
 * A policy as a config-change mark shows it: `token-bucket 10/1s`, `gcra 20/1s burst 40`
 * (burst only when it differs from the limit), or `exempt`.
 */
export function policyText(policy: PolicyOutput): string {
  if (policy.exempt) return 'exempt';
  const burst = policy.burst !== undefined && policy.burst !== policy.limit ? ` burst ${policy.burst}` : '';
  return `${policy.algorithm} ${policy.limit}/${formatWindow(policy.window as number)}${burst}`;
}

/**
 * One setting per policy (`policy default`, `policy good-user`), so a reload shows as one
 * mark per policy that changed ("policy default token-bucket 10/1s → fixed-window 100/60s"),
 * not one opaque "policies changed".
 */
export function policySettings(policies: PolicySet): Record<string, string> {
  const settings: Record<string, string> = {
    'policy default': policyText(policies.document.default ?? DEFAULT_POLICY),
  };
  for (const [name, policy] of Object.entries(policies.document.clients)) {
    settings[`policy ${name}`] = policyText(policy);
  }
  return settings;
}

/**
 * Validates and compiles a policies document (parsed YAML or JSON).
 * @param source - named in errors: the file path, or `PUT /admin/config`
 * @throws {PolicyError} naming each bad path and why
 */
export function compilePolicies(input: unknown, source: string): PolicySet {
  const parsed = policiesSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new PolicyError(
      source,
      parsed.error.issues.map((issue) => ({ path: pathOf(issue.path), message: issue.message })),
    );
  }
  const document = parsed.data;
  document.default ??= { ...DEFAULT_POLICY };
  try {
    const byKey = new Map<string, Policy>();
    let maxKeyLength = 0;
    for (const [name, policy] of Object.entries(document.clients)) {
      const key = policy.key ?? name;
      byKey.set(key, compilePolicy(name, policy, false));
      maxKeyLength = Math.max(maxKeyLength, key.length);
    }
    return { default: compilePolicy('default', document.default, true), byKey, maxKeyLength, document };
  } catch (error) {
    // The schema mirrors the factories' checks; this only fires if they ever drift apart.
    throw new PolicyError(source, [{ path: '(document)', message: (error as Error).message }]);
  }
}

/**
 * Reads, parses (YAML, which includes JSON) and compiles a policies file.
 * @throws {PolicyError} naming the file, the path inside it (or line and column for a
 * YAML syntax error) and the reason.
 */
export function loadPoliciesFile(file: string): PolicySet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyError(file, [{ path: '(file)', message: `cannot read it: ${(error as Error).message}` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((error) => ({
        path: error.linePos ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '(yaml)',
        message: error.message.split('\n')[0] ?? error.message,
      })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (error) {
    // toJS refuses an alias bomb (more than `maxAliasCount` alias expansions) and an
    // alias it cannot resolve: a bad file too, not a crash of the service.
    throw new PolicyError(file, [{ path: '(yaml)', message: (error as Error).message }]);
  }
  return compilePolicies(value, file);
}
