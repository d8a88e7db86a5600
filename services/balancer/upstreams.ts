/**
 * @module
 * The upstream set: each upstream's pool, in-flight count, health and counters, and the
 * list of healthy ones the strategies pick from.
 *
 * Health has two inputs. Active checks (`health.ts`) move an upstream down after `fall`
 * consecutive failed checks (at once when it answers that it is draining) and up after
 * `rise` passed ones. Passive ejection watches
 * real traffic: a connect failure ejects at once, and `ejectAfter` consecutive failures
 * (5xx, timeouts, broken connections) eject too; an ejected upstream comes back only
 * through `rise` passed active checks. The healthy list is a new array whenever it
 * changes, so strategies can cache per list (the consistent-hash ring).
 */
import type { Pool } from 'undici';
import type { Logger } from '../shared/logger.js';
import { LATENCY_BUCKETS } from '../shared/metrics.js';
import type { ForwardOutcome } from '../shared/outcome.js';
import { createUpstreamPool } from '../shared/pool.js';
import type { Backend } from './strategies/types.js';

export interface UpstreamSpec {
  /** Readable name: `X-Upstream` and the `upstream` metric label. */
  name: string;
  /** Origin, `http://host:port`. */
  url: string;
  weight: number;
}

const ENTRY = /^(?:([A-Za-z0-9_.:-]+)=)?([a-z][a-z0-9+.-]*:\/\/[^*\s]+?)(?:\*(\d+))?$/;

/**
 * Parses `UPSTREAMS`: comma-separated `[name=]url[*weight]`.
 * @throws {Error} naming the bad entry.
 * @example
 * parseUpstreams('node-1=http://127.0.0.1:5001*3,http://127.0.0.1:5002');
 * // [{ name: 'node-1', url: 'http://127.0.0.1:5001', weight: 3 }, { name: '127.0.0.1:5002', ... weight: 1 }]
 */
export function parseUpstreams(text: string): UpstreamSpec[] {
  const specs: UpstreamSpec[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const match = ENTRY.exec(entry);
    if (!match) throw new Error(`"${entry}" is not [name=]http://host:port[*weight]`);
    let url: URL;
    try {
      url = new URL(match[2] as string);
    } catch {
      throw new Error(`"${entry}": "${match[2]}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`"${entry}": only http:// and https:// upstreams`);
    if (url.pathname !== '/' || url.search !== '')
      throw new Error(`"${entry}": an upstream is an origin, without path or query`);
    const weight = match[3] === undefined ? 1 : Number(match[3]);
    if (!(weight >= 1 && weight <= 1000))
      throw new Error(`"${entry}": weight must be an integer from 1 to 1000`);
    const name = match[1] ?? url.host;
    if (specs.some((s) => s.name === name))
      throw new Error(`"${entry}": upstream name "${name}" is used twice`);
    specs.push({ name, url: url.origin, weight });
  }
  if (specs.length === 0) throw new Error('at least one upstream is needed');
  return specs;
}

export type Outcome = 'ok' | 'error' | 'timeout' | 'retried';

/** One upstream: what strategies read (`Backend`) plus health and counters. */
export class Upstream implements Backend {
  readonly id: string;
  readonly url: string;
  weight: number;
  inFlight = 0;
  healthy = true;
  /** Why it is down (`health check failed`, `connect failure`, `5 consecutive failures`). */
  downReason: string | undefined = undefined;
  /** Consecutive active-check results in the current direction. */
  checkFails = 0;
  checkPasses = 0;
  /** Consecutive failed requests (passive). */
  consecutiveFailures = 0;
  /** EWMA of time to response headers, ms (α = 0.1), for `/admin/state`. */
  ewmaMs = 0;
  /** Tries by outcome since start (read by `/admin/state` and, at scrape time, by the metrics). */
  readonly counts: Record<Outcome, number> = { ok: 0, error: 0, timeout: 0, retried: 0 };
  /**
   * Time to response headers: non-cumulative counts per LATENCY_BUCKETS bound (the last
   * slot is beyond the largest bound), sum and count in seconds. Plain numbers on the hot
   * path; the histogram metric reads them at scrape time.
   */
  readonly latency = { buckets: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 };
  lastError: string | undefined = undefined;
  lastCheckAt: number | undefined = undefined;
  /** `['x-upstream', name]`, preset so the hot path allocates nothing for it. */
  readonly responseHeaders: readonly string[];
  /** Set when removed from the set (DNS); its pool closes once idle. */
  removed = false;

  constructor(
    spec: UpstreamSpec,
    readonly pool: Pool,
  ) {
    this.id = spec.name;
    this.url = spec.url;
    this.weight = spec.weight;
    this.responseHeaders = ['x-upstream', spec.name];
  }
}

export interface UpstreamSetOptions {
  log: Logger;
  /** Consecutive failures that eject (0 = never). */
  ejectAfter: number;
  healthFall: number;
  healthRise: number;
  poolConnections?: number;
  /** Builds a pool; tests may pass their own. */
  createPool?: (url: string) => Pool;
  now?: () => number;
}

export class UpstreamSet {
  all: Upstream[] = [];
  /** The upstreams that may be picked: a fresh array on every change. */
  healthy: readonly Upstream[] = [];
  readonly #options: UpstreamSetOptions;
  readonly #createPool: (url: string) => Pool;

  constructor(specs: readonly UpstreamSpec[], options: UpstreamSetOptions) {
    this.#options = options;
    this.#createPool =
      options.createPool ??
      ((url) => createUpstreamPool(url, { connections: options.poolConnections ?? 128 }));
    this.replace(specs);
  }

  get(name: string): Upstream | undefined {
    return this.all.find((u) => u.id === name);
  }

  /**
   * Makes the set equal to `specs` (DNS re-resolution): new ones join healthy, missing
   * ones leave (their pools close once their requests finish), others keep their state.
   * @returns the names added and removed
   */
  replace(specs: readonly UpstreamSpec[]): { added: string[]; removed: string[] } {
    const wanted = new Map(specs.map((s) => [s.name, s]));
    const added: string[] = [];
    const removed: string[] = [];
    const next: Upstream[] = [];
    for (const upstream of this.all) {
      if (wanted.has(upstream.id)) next.push(upstream);
      else {
        upstream.removed = true;
        removed.push(upstream.id);
        void upstream.pool.close().catch(() => {});
      }
    }
    for (const spec of specs) {
      if (this.all.some((u) => u.id === spec.name)) continue;
      next.push(new Upstream(spec, this.#createPool(spec.url)));
      added.push(spec.name);
    }
    this.all = next;
    this.#rebuild();
    if (added.length > 0 || removed.length > 0)
      this.#options.log.info('upstreams_changed', { added, removed });
    return { added, removed };
  }

  /** Sets weights by name. @throws {Error} naming an unknown upstream (nothing changes). */
  setWeights(weights: Record<string, number>): void {
    for (const name of Object.keys(weights)) {
      if (!this.get(name))
        throw new Error(`unknown upstream "${name}" (known: ${this.all.map((u) => u.id).join(', ')})`);
    }
    for (const [name, weight] of Object.entries(weights)) (this.get(name) as Upstream).weight = weight;
    this.#rebuild();
  }

  markDown(upstream: Upstream, reason: string): void {
    upstream.checkPasses = 0;
    if (!upstream.healthy) return;
    upstream.healthy = false;
    upstream.downReason = reason;
    this.#rebuild();
    this.#options.log.warn('upstream_down', { upstream: upstream.id, reason });
  }

  markUp(upstream: Upstream): void {
    upstream.checkFails = 0;
    upstream.consecutiveFailures = 0;
    if (upstream.healthy) return;
    upstream.healthy = true;
    upstream.downReason = undefined;
    this.#rebuild();
    this.#options.log.info('upstream_up', { upstream: upstream.id });
  }

  /**
   * One active check result; applies fall/rise.
   * @param [draining=false] - the upstream announced its drain (503): down at once, not after `fall`
   */
  recordCheck(upstream: Upstream, passed: boolean, detail?: string, draining = false): void {
    upstream.lastCheckAt = (this.#options.now ?? Date.now)();
    if (passed) {
      upstream.checkFails = 0;
      upstream.checkPasses++;
      if (!upstream.healthy && upstream.checkPasses >= this.#options.healthRise) this.markUp(upstream);
    } else {
      upstream.checkPasses = 0;
      upstream.checkFails++;
      if (detail) upstream.lastError = detail;
      if (draining) this.markDown(upstream, `draining: health check answered ${detail ?? '503'}`);
      else if (upstream.healthy && upstream.checkFails >= this.#options.healthFall) {
        this.markDown(upstream, `health check failed ${upstream.checkFails} times: ${detail ?? 'unknown'}`);
      }
    }
  }

  /**
   * One finished try, for counters, latency and passive ejection.
   * @param retried - the failed try is being retried elsewhere
   */
  recordTry(upstream: Upstream, outcome: ForwardOutcome, retried: boolean): void {
    const latency = outcome.headersMs >= 0 ? outcome.headersMs : outcome.durationMs;
    let kind: Outcome;
    if (outcome.error === undefined || outcome.error === 'aborted') {
      kind = outcome.status >= 500 ? 'error' : 'ok';
      upstream.ewmaMs = upstream.ewmaMs === 0 ? latency : upstream.ewmaMs * 0.9 + latency * 0.1;
    } else kind = outcome.error === 'timeout' ? 'timeout' : 'error';
    if (retried) kind = 'retried';
    upstream.counts[kind]++;
    if (outcome.headersMs >= 0) {
      const seconds = outcome.headersMs / 1000;
      const l = upstream.latency;
      l.count++;
      l.sum += seconds;
      let i = 0;
      while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
      l.buckets[i] = (l.buckets[i] as number) + 1;
    }

    if (outcome.error === 'aborted') return; // the client left: says nothing about the upstream
    if (kind === 'ok') {
      upstream.consecutiveFailures = 0;
      return;
    }
    upstream.consecutiveFailures++;
    if (outcome.cause) upstream.lastError = outcome.cause.message;
    else if (outcome.status >= 500) upstream.lastError = `status ${outcome.status}`;
    const { ejectAfter } = this.#options;
    if (ejectAfter === 0 || !upstream.healthy) return;
    if (outcome.error === 'connect')
      this.markDown(upstream, `connect failure: ${outcome.cause?.message ?? ''}`);
    else if (upstream.consecutiveFailures >= ejectAfter) {
      this.markDown(
        upstream,
        `${upstream.consecutiveFailures} consecutive failures, last: ${upstream.lastError}`,
      );
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((u) => u.pool.close().catch(() => {})));
  }

  #rebuild(): void {
    this.healthy = this.all.filter((u) => u.healthy);
  }
}
