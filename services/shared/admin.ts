/**
 * @module
 * The admin API every service shares: a bearer-token guard on `/admin/*` and
 * `GET`/`PUT /admin/config` with zod-validated partial updates.
 *
 * Every update that changes something is also recorded as metrics (config-changes.ts): the
 * service's named settings are read before and after, and each one that differs becomes a
 * change mark for the Grafana board ("strategy round-robin → least-connections").
 *
 * No token configured → the admin API is off (404, as if it did not exist); a wrong or
 * missing token → 401. Tokens are compared in constant time over their SHA-256 digests,
 * so neither the content nor the length leaks through timing.
 *
 * Every refusal is thrown as Hono's `HTTPException` carrying its answer,
 * `{"error": "...", ...}` (see {@link adminRefusal}); Hono's error handling (the service
 * app's `onError`, or the default one) sends it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import {
  type ConfigChanges,
  diffSettings,
  flattenSettings,
  type SettingChange,
  type Settings,
} from './config-changes.js';
import { discardUnreadBody } from './discard.js';
import type { Logger } from './logger.js';
import type { WorkerGroup } from './worker-link.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Largest `PUT /admin/config` body: a policies document with thousands of clients fits. */
export const ADMIN_BODY_LIMIT = 1024 * 1024;

/**
 * A refused control-plane request: `{"error": message, ...members}` with `status`.
 * @param [headers] - e.g. `WWW-Authenticate` on a 401
 * @example
 * throw adminRefusal(400, 'body must be a JSON object');
 */
export function adminRefusal(
  status: ContentfulStatusCode,
  message: string,
  members: Record<string, unknown> = {},
  headers?: Record<string, string>,
): HTTPException {
  const res = Response.json({ error: message, ...members }, { status, headers });
  return new HTTPException(status, { message, res });
}

/** Guards `/admin/*`: 404 when `token` is undefined, 401 unless `Authorization: Bearer <token>`. */
export function adminAuth(token: string | undefined): MiddlewareHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async function adminAuth(c, next) {
    if (!expected) throw adminRefusal(404, 'admin API is off: start the service with ADMIN_TOKEN set');
    const header = c.req.header('authorization') ?? '';
    // The auth scheme is case-insensitive (RFC 9110 §11.1): `bearer x` is `Bearer x`.
    const given = /^bearer /i.test(header) ? header.slice(7) : '';
    if (!timingSafeEqual(digest(given), expected)) {
      throw adminRefusal(
        401,
        'unauthorized: send Authorization: Bearer <ADMIN_TOKEN>',
        {},
        { 'WWW-Authenticate': 'Bearer realm="admin"' },
      );
    }
    await next();
  };
}

/** Thrown by a service's `apply` when an update is well-formed but cannot be applied. */
export class InvalidUpdateError extends Error {
  constructor(
    message: string,
    readonly issues: unknown[] = [],
  ) {
    super(message);
    this.name = 'InvalidUpdateError';
  }
}

class ProtoKeyError extends Error {
  constructor() {
    super('"__proto__" is not a valid key anywhere in a config update; nothing was changed');
  }
}

/**
 * `JSON.parse` reviver refusing a `__proto__` key at any depth. zod's records drop that
 * key silently, so `{"weights": {"__proto__": 5}}` was answered 200 "applied" while it
 * named no upstream (found by the admin fuzz, services/balancer/app.fuzz.test.ts).
 */
function refuseProtoKey(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new ProtoKeyError();
  return value;
}

export interface LiveConfig<Update extends z.ZodType> {
  /** The effective runtime config, as `GET /admin/config` returns it. */
  get(): unknown;
  /** A strict partial schema: the fields `PUT /admin/config` may change. */
  update: Update;
  /** Applies a validated update; throws `InvalidUpdateError` to refuse it (nothing changes). */
  apply(patch: z.infer<Update>): void | Promise<void>;
  /**
   * The settings a learner would name, each with its value as text (`{"load factor": "30"}`);
   * a changed one becomes a config-change mark. Defaults to every scalar of `get()` by path.
   */
  settings?(): Settings;
}

/**
 * The `/admin` sub-app: guard plus `GET/PUT /admin/config`. Services add their own
 * routes to the returned app (the balancer's `GET /admin/state`).
 *
 * @example
 * app.route('/admin', adminApp({ token, live, log }));
 */
export function adminApp<Update extends z.ZodType>({
  token,
  live,
  log,
  changes,
  workers,
}: {
  token: string | undefined;
  live: LiveConfig<Update>;
  log: Logger;
  /** Where changed settings are recorded (the service's `metrics.configChanges`). */
  changes?: ConfigChanges;
  /** The other worker threads of this service (`WORKERS` > 1): every update is applied in all of them. */
  workers?: WorkerGroup;
}) {
  const settings = () => (live.settings ? live.settings() : flattenSettings(live.get()));
  /** Applies a validated update in this thread; records what changed (at `at` ms, else now). */
  const applyHere = async (patch: z.infer<Update>, at?: number): Promise<SettingChange[]> => {
    const before = settings();
    await live.apply(patch);
    const changed = diffSettings(before, settings());
    changes?.record(changed, at);
    return changed;
  };
  const applyEverywhere = workers ? workers.configUpdates(applyHere) : applyHere;
  const admin = new Hono();
  admin.use('*', adminAuth(token));
  admin.get('/config', (c) => c.json(live.get() as object));
  const limit = bodyLimit({
    maxSize: ADMIN_BODY_LIMIT,
    onError: (c) => {
      discardUnreadBody(c);
      throw adminRefusal(413, `body larger than ${ADMIN_BODY_LIMIT} bytes; nothing was changed`);
    },
  });
  admin.put('/config', limit, async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text(), refuseProtoKey);
    } catch (error) {
      throw adminRefusal(400, error instanceof ProtoKeyError ? error.message : 'body must be a JSON object');
    }
    const parsed = live.update.safeParse(body);
    if (!parsed.success) {
      throw adminRefusal(400, 'invalid config update; nothing was changed', { issues: parsed.error.issues });
    }
    let changed: SettingChange[];
    try {
      changed = await applyEverywhere(parsed.data);
    } catch (error) {
      if (error instanceof InvalidUpdateError) {
        throw adminRefusal(400, `${error.message}; nothing was changed`, { issues: error.issues });
      }
      throw error;
    }
    log.info('config_changed', { update: parsed.data as object, changes: changed });
    return c.json(live.get() as object);
  });
  return admin;
}
