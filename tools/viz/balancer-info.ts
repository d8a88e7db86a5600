/**
 * @module
 * What the balancer says about itself, read from its public `GET /metrics` (DESIGN.md's
 * `lab_balancer_strategy_info`, `lab_balancer_upstream_in_flight`, `lab_balancer_upstream_up`),
 * so `viz:lb` shows the active strategy and each node's load without an admin token.
 */

export interface BalancerInfo {
  strategy?: string;
  /** Keyed by the `upstream` label. */
  upstreams: Record<string, { inFlight?: number; up?: boolean }>;
}

const SAMPLE = /^(\w+)\{([^}]*)\}\s+(\S+)/;

function labels(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
}

/** Parses the Prometheus text exposition; unknown lines are ignored. */
export function parseBalancerMetrics(text: string): BalancerInfo {
  const info: BalancerInfo = { upstreams: {} };
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const [, name, labelText, valueText] = match as unknown as [string, string, string, string];
    const value = Number(valueText);
    const l = labels(labelText);
    if (name === 'lab_balancer_strategy_info' && value === 1 && l.strategy) info.strategy = l.strategy;
    else if (name === 'lab_balancer_upstream_in_flight' && l.upstream) {
      info.upstreams[l.upstream] = { ...info.upstreams[l.upstream], inFlight: value };
    } else if (name === 'lab_balancer_upstream_up' && l.upstream) {
      info.upstreams[l.upstream] = { ...info.upstreams[l.upstream], up: value === 1 };
    }
  }
  return info;
}

/**
 * The metrics entry for a node named by `X-Upstream`: the same name, or a label that
 * contains it or is contained in it (`node-1` vs `http://node-1:8080`).
 */
export function upstreamFor(
  info: BalancerInfo,
  node: string,
): { inFlight?: number; up?: boolean } | undefined {
  if (info.upstreams[node]) return info.upstreams[node];
  const key = Object.keys(info.upstreams).find((k) => k.includes(node) || node.includes(k));
  return key === undefined ? undefined : info.upstreams[key];
}

/** Fetches and parses `${base}/metrics`; undefined when unreachable (the view then says "unknown"). */
export async function fetchBalancerInfo(base: string, timeoutMs = 1_000): Promise<BalancerInfo | undefined> {
  try {
    const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.arrayBuffer();
      return undefined;
    }
    return parseBalancerMetrics(await response.text());
  } catch {
    return undefined;
  }
}

/** `GET /admin/state` as the balancer answers it (the fields the view uses). */
interface AdminState {
  strategy?: string;
  upstreams?: { name?: string; in_flight?: number; healthy?: boolean }[];
}

/** Reads the balancer's state from its admin API (needs the token); undefined when refused or down. */
export function parseAdminState(state: AdminState): BalancerInfo {
  const info: BalancerInfo = { upstreams: {} };
  if (typeof state.strategy === 'string') info.strategy = state.strategy;
  for (const upstream of state.upstreams ?? []) {
    if (!upstream.name) continue;
    info.upstreams[upstream.name] = {
      ...(typeof upstream.in_flight === 'number' ? { inFlight: upstream.in_flight } : {}),
      ...(typeof upstream.healthy === 'boolean' ? { up: upstream.healthy } : {}),
    };
  }
  return info;
}

/**
 * The balancer's state: from `/admin/state` when a token is given, else from `/metrics`.
 * Undefined when neither answers (the view then says "strategy unknown").
 */
export async function fetchBalancerState(
  base: string,
  token?: string,
  timeoutMs = 1_000,
): Promise<BalancerInfo | undefined> {
  if (token) {
    try {
      const response = await fetch(`${base}/admin/state`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.ok) return parseAdminState((await response.json()) as AdminState);
      await response.arrayBuffer();
    } catch {
      // fall back to the metrics
    }
  }
  return fetchBalancerInfo(base, timeoutMs);
}
