/**
 * @module
 * Active health checks: `GET <path>` on every upstream each `intervalMs`, through the
 * upstream's own keep-alive pool, each check bounded by `timeoutMs`. A 2xx/3xx answer
 * passes; anything else (status, connect error, timeout) fails, and a 503 or an
 * `X-Draining` answer (the upstream is draining) takes it out at once. Results go to
 * `UpstreamSet.recordCheck`, which applies fall/rise. An upstream whose previous check is
 * still running is skipped, so a hanging upstream never piles up checks.
 */
import { DRAIN_HEADER } from '../shared/drain.js';
import type { Upstream, UpstreamSet } from './upstreams.js';

export interface HealthCheckOptions {
  path: string;
  intervalMs: number;
  timeoutMs: number;
}

/** What one check found. */
export interface CheckResult {
  /** Undefined when the check passed, else what went wrong. */
  problem: string | undefined;
  /**
   * The upstream says it is going away (503, or `X-Draining`): it leaves the rotation at
   * once instead of after `fall` failed checks (HAProxy agent `drain`, Envoy's
   * immediate health-check fail).
   */
  draining: boolean;
}

/** One check. */
export async function checkOnce(
  upstream: Upstream,
  { path, timeoutMs }: HealthCheckOptions,
): Promise<CheckResult> {
  try {
    const { statusCode, headers, body } = await upstream.pool.request({
      path,
      method: 'GET',
      headers: { 'user-agent': 'lab-balancer-health' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await body.dump();
    const draining = statusCode === 503 || headers[DRAIN_HEADER] !== undefined;
    if (statusCode >= 200 && statusCode < 400 && !draining) return { problem: undefined, draining };
    return { problem: draining ? `status ${statusCode} (draining)` : `status ${statusCode}`, draining };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { problem: e.code ? `${e.code}: ${e.message}` : e.message, draining: false };
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
      void checkOnce(upstream, options).then(({ problem, draining }) => {
        running.delete(upstream);
        if (!upstream.removed) set.recordCheck(upstream, problem === undefined, problem, draining);
      });
    }
  };
  round();
  const timer = setInterval(round, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
