/**
 * @module
 * The few admin calls the incidents make (`GET`/`PUT /admin/config` with the bearer token),
 * with errors that say which service refused and why.
 */

export class AdminError extends Error {}

async function call(url: string, token: string, init: RequestInit = {}): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(5_000),
    });
  } catch (error) {
    throw new AdminError(
      `${url}: not reachable (${(error as Error).message}); is the lab running (npm run lab / make up)?`,
    );
  }
  const text = await response.text();
  if (response.status === 401 || response.status === 404) {
    throw new AdminError(
      `${url}: ${response.status}; the admin API needs the lab's ADMIN_TOKEN (--token or $ADMIN_TOKEN)`,
    );
  }
  if (!response.ok) throw new AdminError(`${url}: ${response.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

export function getConfig<T = Record<string, unknown>>(base: string, token: string): Promise<T> {
  return call(`${base}/admin/config`, token) as Promise<T>;
}

export function putConfig<T = Record<string, unknown>>(
  base: string,
  token: string,
  body: unknown,
): Promise<T> {
  return call(`${base}/admin/config`, token, { method: 'PUT', body: JSON.stringify(body) }) as Promise<T>;
}

/** The limiter's policies document as `GET /admin/config` returns it. */
export interface PoliciesDocument {
  default?: Record<string, unknown>;
  clients?: Record<string, Record<string, unknown>>;
}

/** The limiter's current policies (from its effective config). */
export async function getPolicies(limiter: string, token: string): Promise<PoliciesDocument> {
  const config = await getConfig<{ policies?: PoliciesDocument }>(limiter, token);
  if (!config.policies)
    throw new AdminError(`${limiter}/admin/config has no "policies": is this the limiter?`);
  return config.policies;
}

/** The same document with some clients' policies replaced (pure). */
export function withClients(
  document: PoliciesDocument,
  overrides: Record<string, Record<string, unknown>>,
): PoliciesDocument {
  return { ...document, clients: { ...document.clients, ...overrides } };
}
