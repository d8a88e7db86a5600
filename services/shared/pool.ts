/**
 * @module
 * Keep-alive connection pools to the proxies' upstreams (undici `Pool`), one per origin.
 */
import { Pool } from 'undici';

export interface UpstreamPoolOptions {
  /** Sockets kept per upstream (undici's `connections`). */
  connections?: number;
  /** Idle keep-alive sockets are closed after this long; keep it below the upstream's own. */
  keepAliveTimeoutMs?: number;
  /** TCP connect timeout; a timed-out connect counts as a connect failure. */
  connectTimeoutMs?: number;
}

/**
 * A keep-alive connection pool to one upstream origin, without pipelining (a slow
 * response never holds up a request queued behind it on the same socket).
 *
 * @param origin - `http://host:port`
 * @param [options.connections=128]
 * @param [options.keepAliveTimeoutMs=60000] - below the lab services' 65 s server keep-alive
 * @param [options.connectTimeoutMs=2000]
 * @example
 * const pool = createUpstreamPool('http://127.0.0.1:5001');
 * await pool.close(); // on shutdown
 */
export function createUpstreamPool(
  origin: string,
  { connections = 128, keepAliveTimeoutMs = 60_000, connectTimeoutMs = 2_000 }: UpstreamPoolOptions = {},
): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: keepAliveTimeoutMs,
    keepAliveMaxTimeout: Math.max(keepAliveTimeoutMs, 600_000),
    connect: { timeout: connectTimeoutMs },
  });
}
