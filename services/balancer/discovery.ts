/**
 * @module
 * DNS discovery (`UPSTREAMS_DNS=host:port`): every A record of `host` is an upstream
 * `http://ip:port` named `ip:port`, re-resolved every `intervalMs`, so containers added
 * with `docker compose up --scale node=5` join and removed ones leave without a restart.
 * Uses the system resolver (`getaddrinfo`: /etc/hosts, then DNS), as every other client
 * on the host would. A failed lookup keeps the current set (logged).
 */
import { lookup } from 'node:dns/promises';
import type { Logger } from '../shared/logger.js';
import type { UpstreamSpec } from './upstreams.js';

export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, family: 4 })).map((a) => a.address);

/** The specs for `host:port` now. @throws when the lookup fails or finds nothing. */
export async function resolveUpstreams(
  target: string,
  resolve: Resolver = systemResolver,
): Promise<UpstreamSpec[]> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon);
  const port = target.slice(colon + 1);
  const addresses = [...new Set(await resolve(host))].sort();
  if (addresses.length === 0) throw new Error(`${host} has no A records`);
  return addresses.map((ip) => ({ name: `${ip}:${port}`, url: `http://${ip}:${port}`, weight: 1 }));
}

/**
 * Re-resolves every `intervalMs` and hands the result to `apply`.
 * @returns stop()
 */
export function watchDns(
  target: string,
  intervalMs: number,
  apply: (specs: UpstreamSpec[]) => void,
  log: Logger,
  resolve: Resolver = systemResolver,
): () => void {
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      apply(await resolveUpstreams(target, resolve));
    } catch (error) {
      log.warn('dns_lookup_failed', { target, error });
    } finally {
      busy = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
