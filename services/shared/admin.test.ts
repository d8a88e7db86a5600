import { Hono } from 'hono';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adminApp, InvalidUpdateError, type LiveConfig } from './admin.js';
import { createLogger } from './logger.js';

const TOKEN = 'correct-horse-battery';
const update = z
  .object({ speed: z.number().int().min(0), mode: z.enum(['a', 'b']) })
  .partial()
  .strict();

function build(token: string | undefined) {
  const state = { speed: 1, mode: 'a' as 'a' | 'b' };
  const live: LiveConfig<typeof update> = {
    get: () => ({ ...state }),
    update,
    apply(patch) {
      if (patch.speed === 13) throw new InvalidUpdateError('speed 13 is unlucky', [{ path: ['speed'] }]);
      Object.assign(state, patch);
    },
  };
  const app = new Hono();
  app.route('/admin', adminApp({ token, live, log: createLogger('test', 'silent') }));
  return { app, state };
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const put = (body: unknown, token = TOKEN) => ({
  method: 'PUT',
  headers: { ...auth(token), 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('admin guard', () => {
  let app: Hono;
  beforeEach(() => {
    app = build(TOKEN).app;
  });

  it('answers 401 without a token', async () => {
    const response = await app.request('/admin/config');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('answers 401 with a wrong token, of any length', async () => {
    for (const token of ['x', 'correct-horse-batterz', `${TOKEN}${TOKEN}`]) {
      expect((await app.request('/admin/config', { headers: auth(token) })).status).toBe(401);
    }
  });

  it('answers 401 for a token sent in another scheme', async () => {
    const response = await app.request('/admin/config', { headers: { authorization: `Basic ${TOKEN}` } });
    expect(response.status).toBe(401);
  });

  it('refuses a PUT body over 1 MiB with 413 and changes nothing', async () => {
    const { app, state } = build(TOKEN);
    const before = { ...state };
    const response = await app.request(
      '/admin/config',
      put(`{"speed": 1, "pad": "${'x'.repeat(1024 * 1024)}"}`),
    );
    expect(response.status).toBe(413);
    expect(state).toEqual(before);
  });

  it('reads the scheme case-insensitively (RFC 9110 §11.1), never the token', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      const headers = { authorization: `${scheme} ${TOKEN}` };
      expect((await app.request('/admin/config', { headers })).status, scheme).toBe(200);
    }
    const upper = { authorization: `Bearer ${TOKEN.toUpperCase()}` };
    expect((await app.request('/admin/config', { headers: upper })).status).toBe(401);
  });

  it('lets the right token through', async () => {
    const response = await app.request('/admin/config', { headers: auth(TOKEN) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ speed: 1, mode: 'a' });
  });

  it('is off entirely when no token is configured', async () => {
    const { app: off } = build(undefined);
    const response = await off.request('/admin/config', { headers: auth('anything') });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toMatch(/ADMIN_TOKEN/);
  });
});

describe('PUT /admin/config', () => {
  it('applies a valid partial update and answers the new config', async () => {
    const { app, state } = build(TOKEN);
    const response = await app.request('/admin/config', put({ speed: 5 }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ speed: 5, mode: 'a' });
    expect(state.speed).toBe(5);
  });

  it.each([
    ['a value of the wrong type', { speed: 'fast' }],
    ['an out-of-range value', { speed: -1 }],
    ['an unknown field', { speed: 2, colour: 'red' }],
    ['a value outside the enum', { mode: 'c' }],
  ])('refuses %s with 400 and the issues, keeping the old config', async (_name, body) => {
    const { app, state } = build(TOKEN);
    const response = await app.request('/admin/config', put(body));
    expect(response.status).toBe(400);
    const answer = (await response.json()) as { detail?: unknown[]; error?: string; issues?: unknown[] };
    expect(answer.error).toMatch(/nothing was changed/);
    expect(answer.issues?.length).toBeGreaterThan(0);
    expect(state).toEqual({ speed: 1, mode: 'a' });
  });

  it('refuses a body that is not JSON', async () => {
    const { app } = build(TOKEN);
    const response = await app.request('/admin/config', put('{speed: 5'));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/JSON/);
  });

  it("refuses an update the service's apply rejects, keeping the old config", async () => {
    const { app, state } = build(TOKEN);
    const response = await app.request('/admin/config', put({ speed: 13, mode: 'b' }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/unlucky; nothing was changed/);
    expect(state).toEqual({ speed: 1, mode: 'a' });
  });

  it('needs the token too', async () => {
    const { app, state } = build(TOKEN);
    expect((await app.request('/admin/config', put({ speed: 9 }, 'wrong-token'))).status).toBe(401);
    expect(state.speed).toBe(1);
  });
});
