/**
 * @module
 * Configuration from environment variables and command-line flags, validated by zod.
 *
 * Every field of a service's config schema is read from an environment variable
 * (`loadFactor` → `LOAD_FACTOR`) and may be overridden by a flag (`--load-factor 30`
 * or `--load-factor=30`). A bad or missing value fails with a message naming the
 * variable, the flag and what was expected, so `main.ts` can print it and exit.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { MAX_TIMER_MS, parseDuration } from './duration.js';

/** Where a config field is read from. */
export interface FieldSource {
  env: string;
  flag: string;
}

/** Overrides of the derived names, e.g. `{ id: { env: 'NODE_ID', flag: '--id' } }`. */
export type SourceOverrides<Shape extends z.ZodRawShape> = Partial<Record<keyof Shape, Partial<FieldSource>>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const toScreamingSnake = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const toKebab = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** The environment variable and flag that feed each field of `shape`. */
export function fieldSources<Shape extends z.ZodRawShape>(
  shape: Shape,
  overrides: SourceOverrides<Shape> = {},
): Record<keyof Shape, FieldSource> {
  const sources = {} as Record<keyof Shape, FieldSource>;
  for (const key of Object.keys(shape) as (keyof Shape & string)[]) {
    sources[key] = {
      env: overrides[key]?.env ?? toScreamingSnake(key),
      flag: overrides[key]?.flag ?? `--${toKebab(key)}`,
    };
  }
  return sources;
}

/** Parses `--name value`, `--name=value` and bare `--name` (meaning "true") into a map. */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--'))
      throw new ConfigError([`unexpected argument "${arg}" (flags look like --name value)`]);
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      flags.set(arg.slice(0, eq), arg.slice(eq + 1));
    } else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) {
      flags.set(arg, argv[++i] as string);
    } else {
      flags.set(arg, 'true');
    }
  }
  return flags;
}

export interface LoadOptions<Shape extends z.ZodRawShape> {
  env?: NodeJS.ProcessEnv;
  argv?: readonly string[];
  sources?: SourceOverrides<Shape>;
}

/**
 * Reads a typed config: flags win over environment variables, which win over the
 * schema's defaults. Empty environment variables count as unset.
 *
 * @throws {ConfigError} naming each bad variable and flag, with what was expected.
 * @example
 * const config = loadConfig({ port: z.coerce.number().int().default(5001) }, { argv: ['--port', '5002'] });
 */
export function loadConfig<Shape extends z.ZodRawShape>(
  shape: Shape,
  { env = process.env, argv = [], sources: overrides }: LoadOptions<Shape> = {},
): z.infer<z.ZodObject<Shape>> {
  const sources = fieldSources(shape, overrides);
  const flags = parseFlags(argv);
  const known = new Set(Object.values<FieldSource>(sources).map((s) => s.flag));
  const unknown = [...flags.keys()].filter((flag) => !known.has(flag));
  if (unknown.length > 0) {
    throw new ConfigError(unknown.map((flag) => `unknown flag ${flag} (known: ${[...known].join(', ')})`));
  }

  const raw: Record<string, string> = {};
  for (const [key, source] of Object.entries<FieldSource>(sources)) {
    const value = flags.get(source.flag) ?? env[source.env];
    if (value !== undefined && value !== '') raw[key] = value;
  }

  const result = z.object(shape).safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = String(issue.path[0]);
      const source = sources[key as keyof Shape];
      const given = key in raw ? `got ${JSON.stringify(raw[key])}` : 'not set';
      return `${source.env} (${source.flag}): ${issue.message}; ${given}`;
    }),
  );
}

/** The default WORKERS never exceeds this, however many cores the machine has. */
export const DEFAULT_MAX_WORKERS = 4;

/** Whether this Node.js can share a port between threads (`listen({ reusePort })`, 22.12+ / 23.1+). */
export function supportsReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

const defaultWorkers = () =>
  supportsReusePort() ? Math.min(DEFAULT_MAX_WORKERS, availableParallelism()) : 1;

/** Schema helpers shared by every service, so the same variable reads the same way everywhere. */
export const fields = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  host: () => z.string().min(1).default('127.0.0.1'),
  adminToken: () => z.string().min(8, 'must be at least 8 characters').optional(),
  logLevel: () => z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  shutdownTimeoutMs: () => z.coerce.number().int().min(0).max(600_000).default(10_000),
  /**
   * How long a client may take to send a request's headers (408 and the connection
   * closed after it): the slow-drip (slowloris) defence. Counted from the request's first
   * byte, so an idle keep-alive connection is never cut by it.
   */
  headersTimeoutMs: () => z.coerce.number().int().min(100).max(600_000).default(10_000),
  /**
   * How long a client may take to send a whole request, body included (408); 0 = no
   * limit. It bounds the upload only, never the answer: a slow node or upstream is bounded
   * by the proxies' upstream timeouts. Keep it above them (the limiter's 30 s
   * UPSTREAM_TIMEOUT): a proxy streams the body upstream and reads it only as fast as
   * the upstream takes it. At least HEADERS_TIMEOUT_MS.
   */
  requestTimeoutMs: () => z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  /**
   * After SIGTERM, how long a service announces that it is draining (health 503,
   * `X-Draining` on responses) before it closes its listener. The default outlasts the
   * balancer's 2 s health interval, so it notices even without traffic; 0 = close at once.
   */
  drainDelayMs: () => z.coerce.number().int().min(0).max(600_000).default(3_000),
  /**
   * Largest request body accepted (bytes), counted while it streams, chunked or not;
   * larger → 413. The node refuses past it, and the proxies in front refuse first, so an
   * oversized upload is answered by the first hop, as nginx's `client_max_body_size`.
   */
  bodyLimit: () => z.coerce.number().int().min(64).max(10_485_760).default(65_536),
  /**
   * Event loops (worker threads) serving the port (see `workers.ts`); 1 = one thread, no
   * workers. Default: the machine's cores (`os.availableParallelism()`), at most
   * {@link DEFAULT_MAX_WORKERS}; 1 on a Node.js without `reusePort` (before 22.12).
   */
  workers: () => z.coerce.number().int().min(1).max(64).default(defaultWorkers()),
  /** Milliseconds, or a duration such as `500ms`, `2s`, `1m`; at most MAX_TIMER_MS (about 24.8 days). */
  duration: (fallback: string) =>
    z
      .union([z.number(), z.string()])
      .default(fallback)
      .transform((value, ctx) => {
        let ms: number;
        try {
          ms = parseDuration(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
        if (ms > MAX_TIMER_MS) {
          ctx.addIssue({
            code: 'custom',
            message: `must be at most ${MAX_TIMER_MS} ms (about 24.8 days), the longest timer Node.js keeps`,
          });
          return z.NEVER;
        }
        return ms;
      }),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
};
