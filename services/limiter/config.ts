/**
 * @module
 * The limiter's configuration: `node dist/main.js limiter --port 8080 --upstream
 * http://127.0.0.1:8081 --rate-limit-policies config/policies.yaml`, or the same through
 * `PORT`, `UPSTREAM`, `RATE_LIMIT_POLICIES`, `TRUSTED_PROXIES`, ...
 */
import { z } from 'zod';
import { commonConfig } from '../shared/app.js';
import { fields } from '../shared/config.js';
import { parseTrustedProxies } from './identity.js';

export const limiterConfigShape = {
  ...commonConfig,
  port: fields.port(8080),
  /** Event loops (worker threads) serving the port; 1 = one thread (see shared/workers.ts). */
  workers: fields.workers(),
  /** Where admitted requests go: the balancer. */
  upstream: z
    .url({ protocol: /^http$/, error: 'must be an http:// URL such as http://127.0.0.1:8081' })
    .default('http://127.0.0.1:8081')
    .transform((url) => new URL(url).origin),
  /** The policies YAML file; unset → 10 requests per second per client (token bucket). */
  rateLimitPolicies: z.string().min(1).optional(),
  /** Comma-separated addresses or CIDR ranges whose X-Forwarded-For is believed. */
  trustedProxies: z
    .string()
    .default('')
    .transform((list, ctx) => {
      try {
        return { list, blocks: parseTrustedProxies(list) };
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Where per-client state lives: `memory` (this process) or `redis` (shared by replicas). */
  rateLimitStore: z.enum(['memory', 'redis']).default('memory'),
  /** When the store fails: `open` admits the request, `closed` answers 503. Counted either way. */
  rateLimitFailMode: z.enum(['open', 'closed']).default('open'),
  /** Also send `X-RateLimit-Limit/Remaining/Reset` (Reset in seconds until reset). */
  rateLimitLegacyHeaders: fields.boolean(false),
  /** Hard cap on client keys the memory store tracks (least recently used dropped first). */
  rateLimitMaxKeys: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
  /** The Redis store's server (`RATE_LIMIT_STORE=redis`). */
  redisUrl: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// URL such as redis://127.0.0.1:6379' })
    .default('redis://127.0.0.1:6379'),
  /** Prefix of every key the Redis store writes (labs sharing one Redis use different ones). */
  redisKeyPrefix: z.string().min(1).max(100).default('lab:rl:'),
  /** Longest wait for the store per request (tens of ms); past it RATE_LIMIT_FAIL_MODE applies. */
  rateLimitStoreTimeout: fields.duration('50ms').pipe(z.number().int().min(1).max(10_000)),
  /** Per-try upstream timeout (time to response headers, and between body chunks). */
  upstreamTimeout: fields.duration('30s'),
  /**
   * Retries of a request the upstream never received (connection refused, or a reused
   * keep-alive socket closed before anything was sent), with backoff (see `retry.ts`);
   * then 503 problem+json. 0 = fail at once.
   */
  upstreamRetries: z.coerce.number().int().min(0).max(10).default(3),
  /** The first retry's longest wait; doubles per retry, jittered (100ms → 50–100, 100–200, 200–400 ms). */
  upstreamRetryBackoff: fields.duration('100ms').pipe(z.number().int().min(1).max(5_000)),
};

export type LimiterConfig = z.infer<z.ZodObject<typeof limiterConfigShape>>;
