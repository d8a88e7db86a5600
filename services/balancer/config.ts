/**
 * @module
 * The balancer's configuration: `node dist/main.js balancer --port 8081 --lb-strategy
 * least-connections`, or the same through environment variables (see the README's
 * balancer section for the table).
 */
import { z } from 'zod';
import { commonConfig } from '../shared/app.js';
import { fields, type SourceOverrides } from '../shared/config.js';
import { STRATEGY_NAMES } from './strategies/index.js';
import { parseUpstreams } from './upstreams.js';

const strategy = z.enum(STRATEGY_NAMES, {
  message: `expected one of ${STRATEGY_NAMES.join(', ')}`,
});

const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const balancerConfigShape = {
  ...commonConfig,
  port: fields.port(8081),
  /** Event loops (worker threads) serving the port; 1 = one thread (see shared/workers.ts). */
  workers: fields.workers(),
  /**
   * Comma-separated upstreams, each `[name=]url[*weight]`, e.g.
   * `node-1=http://127.0.0.1:5001*3,http://127.0.0.1:5002`. The name (default `host:port`)
   * is what `X-Upstream` and the `upstream` metric label show.
   */
  upstreams: z
    .string()
    .default('http://127.0.0.1:5001,http://127.0.0.1:5002,http://127.0.0.1:5003')
    .transform((value, ctx) => {
      try {
        return parseUpstreams(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** `host:port`: every A record of `host` is an upstream, re-resolved every `dnsInterval`. Wins over UPSTREAMS. */
  upstreamsDns: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected host:port, e.g. node:8080')
    .optional(),
  dnsInterval: fields.duration('5s'),
  strategy: strategy.default('round-robin'),
  /** Active health check: `GET healthPath` every `healthInterval`, each within `healthTimeout`. */
  healthInterval: fields.duration('2s'),
  healthTimeout: fields.duration('1s'),
  healthPath: z.string().startsWith('/', 'must start with /').default('/health'),
  /** Consecutive failed checks that mark an upstream down (HAProxy `fall`). */
  healthFall: count(3, 100),
  /** Consecutive passed checks that bring it back (HAProxy `rise`). */
  healthRise: count(2, 100),
  /**
   * Passive ejection: this many consecutive failed requests (5xx, timeouts, broken
   * connections) eject an upstream until its health check passes `healthRise` times.
   * A connect failure ejects at once. 0 turns passive ejection off.
   */
  ejectAfter: z.coerce.number().int().min(0).max(1000).default(5),
  /** Per-try timeout: the upstream's headers, and each body chunk, must arrive within it (504 otherwise). */
  tryTimeout: fields.duration('5s'),
  /** Total time for a request across its tries. */
  totalTimeout: fields.duration('10s'),
  /** Header whose value is the consistent-hash key when the path has none. */
  hashHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'a header name')
    .default('x-hash-key')
    .transform((h) => h.toLowerCase()),
  /** Consistent-hash bounded load factor c (> 1, e.g. 1.25); 0 = off. */
  hashLoadFactor: z.coerce
    .number()
    .refine((v) => v === 0 || v > 1, 'must be 0 (off) or greater than 1')
    .default(0),
  /** Keep-alive sockets per upstream. */
  poolConnections: count(128, 10_000),
};

export const balancerConfigSources: SourceOverrides<typeof balancerConfigShape> = {
  upstreamsDns: { env: 'UPSTREAMS_DNS', flag: '--upstreams-dns' },
  upstreams: { env: 'UPSTREAMS', flag: '--upstreams' },
  dnsInterval: { env: 'LB_DNS_INTERVAL', flag: '--dns-interval' },
  strategy: { env: 'LB_STRATEGY', flag: '--strategy' },
  healthInterval: { env: 'LB_HEALTH_INTERVAL', flag: '--health-interval' },
  healthTimeout: { env: 'LB_HEALTH_TIMEOUT', flag: '--health-timeout' },
  healthPath: { env: 'LB_HEALTH_PATH', flag: '--health-path' },
  healthFall: { env: 'LB_HEALTH_FALL', flag: '--health-fall' },
  healthRise: { env: 'LB_HEALTH_RISE', flag: '--health-rise' },
  ejectAfter: { env: 'LB_EJECT_AFTER', flag: '--eject-after' },
  tryTimeout: { env: 'LB_TRY_TIMEOUT', flag: '--try-timeout' },
  totalTimeout: { env: 'LB_TOTAL_TIMEOUT', flag: '--total-timeout' },
  hashHeader: { env: 'LB_HASH_HEADER', flag: '--hash-header' },
  hashLoadFactor: { env: 'LB_HASH_LOAD_FACTOR', flag: '--hash-load-factor' },
  poolConnections: { env: 'LB_POOL_CONNECTIONS', flag: '--pool-connections' },
};

export type BalancerConfig = z.infer<z.ZodObject<typeof balancerConfigShape>>;

/** `PUT /admin/config` body. */
export const balancerUpdate = z
  .object({
    strategy,
    /** New weights by upstream name, e.g. `{"127.0.0.1:5001": 3}`. */
    weights: z.record(z.string(), z.number().int().min(1, 'weights must be integers ≥ 1').max(1000)),
  })
  .partial()
  .strict();
