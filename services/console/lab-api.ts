/**
 * @module
 * The console's one client of the services: reads their state and calls their admin APIs
 * with the admin token from its own config (`ADMIN_TOKEN`), which never leaves this
 * process. A failed call is an {@link UpstreamError} saying which service answered what.
 */
import type { BalancerState } from '../balancer/state.js';
import type { ConsoleConfig } from './config.js';
import type { LimiterConfig, NodeStats, Read } from './snapshot.js';

/** A service refused a call or did not answer; `status` is its answer's (0: none). */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

type ApiConfig = Pick<
  ConsoleConfig,
  'balancerUrl' | 'limiterUrl' | 'nodeUrls' | 'adminToken' | 'readTimeout'
>;

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code) return cause.code;
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  return (error as Error).message;
}

export class LabApi {
  constructor(readonly config: ApiConfig) {}

  /** The node of NODE_URLS named `name`, if any. */
  node(name: string): { name: string; url: string } | undefined {
    return this.config.nodeUrls.find((n) => n.name === name);
  }

  async #call<T>(service: string, url: string, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.config.adminToken) headers.authorization = `Bearer ${this.config.adminToken}`;
    let response: Response;
    try {
      response = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(this.config.readTimeout) });
    } catch (error) {
      throw new UpstreamError(`${service} did not answer ${url}: ${reason(error)}`, 0);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new UpstreamError(
        `${service} answered ${response.status}: ${text.slice(0, 500)}`,
        response.status,
      );
    }
    return JSON.parse(text) as T;
  }

  /** A read whose answer must pass `looksRight`, else it says what answered instead. */
  async #read<T>(service: string, url: string, looksRight: (value: T) => boolean): Promise<Read<T>> {
    try {
      const value = await this.#call<T>(service, url);
      if (looksRight(value)) return { ok: true, value };
      return { ok: false, error: `${url} did not answer as the ${service} does (is its URL right?)` };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  /** Every service's state, read at once; a service that fails says why. */
  async readAll() {
    const { balancerUrl, limiterUrl, nodeUrls } = this.config;
    const [balancer, limiter, nodes] = await Promise.all([
      this.#read<BalancerState>(
        'balancer',
        `${balancerUrl}/admin/state`,
        (state) => typeof state?.strategy === 'string' && Array.isArray(state.upstreams),
      ),
      this.#read<LimiterConfig>(
        'limiter',
        `${limiterUrl}/admin/config`,
        (config) => typeof config?.policies?.default === 'object',
      ),
      Promise.all(
        nodeUrls.map(async ({ name, url }) => ({
          name,
          url,
          stats: await this.#read<NodeStats>(
            'node',
            `${url}/stats`,
            (stats) => typeof stats?.node_id === 'string' && typeof stats.load_factor === 'number',
          ),
        })),
      ),
    ]);
    return { balancer, limiter, nodes };
  }

  /** `PUT /admin/config` of the balancer. */
  setBalancer(update: { strategy: string }): Promise<unknown> {
    return this.#call('balancer', `${this.config.balancerUrl}/admin/config`, {
      method: 'PUT',
      body: JSON.stringify(update),
    });
  }

  /** `PUT /admin/config` of a node of NODE_URLS. */
  setNode(name: string, update: object): Promise<unknown> {
    const node = this.node(name);
    if (!node) throw new UpstreamError(`no node named ${name}`, 404);
    return this.#call(name, `${node.url}/admin/config`, { method: 'PUT', body: JSON.stringify(update) });
  }

  /** Every policy that has an algorithm switches to `algorithm` (what `make algorithm A=...` does). */
  async setAlgorithm(algorithm: string): Promise<unknown> {
    const url = `${this.config.limiterUrl}/admin/config`;
    const { policies } = await this.#call<LimiterConfig>('limiter', url);
    const switched = structuredClone(policies);
    for (const policy of [switched.default, ...Object.values(switched.clients ?? {})]) {
      if (policy.algorithm !== undefined) policy.algorithm = algorithm;
    }
    return this.#call('limiter', url, { method: 'PUT', body: JSON.stringify({ policies: switched }) });
  }
}
