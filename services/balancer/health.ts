/**
 * @module
 * Active health checks: `GET <path>` on every upstream each `intervalMs`, through the
 * upstream's own keep-alive pool, each check bounded by `timeoutMs`. A 2xx/3xx answer
 * passes; anything else (status, connect error, timeout) fails. Results go to
 * `UpstreamSet.recordCheck`, which applies fall/rise. An upstream whose previous check is
 * still running is skipped, so a hanging upstream never piles up checks.
 */
import type { Upstream, UpstreamSet } from './upstreams.js';

export interface HealthCheckOptions {
  path: string;
  intervalMs: number;
  timeoutMs: number;
}

/** One check. Resolves with an error description, or undefined when it passed. */
export async function checkOnce(
  upstream: Upstream,
  { path, timeoutMs }: HealthCheckOptions,
): Promise<string | undefined> {
  try {
    const { statusCode, body } = await upstream.pool.request({
      path,
      method: 'GET',
      headers: { 'user-agent': 'lab-balancer-health' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await body.dump();
    return statusCode >= 200 && statusCode < 400 ? undefined : `status ${statusCode}`;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return e.code ? `${e.code}: ${e.message}` : e.message;
  }
}

/**
 * Starts checking now and every `intervalMs`.
 * @returns stop()
 */
export function startHealthChecks(set: UpstreamSet, options: HealthCheckOptions): () => void {
  const running = new Set<Upstream>();
  const round = () => {
    for (const upstream of set.all) {
      if (running.has(upstream)) continue;
      running.add(upstream);
      void checkOnce(upstream, options).then((problem) => {
        running.delete(upstream);
        if (!upstream.removed) set.recordCheck(upstream, problem === undefined, problem);
      });
    }
  };
  round();
  const timer = setInterval(round, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
