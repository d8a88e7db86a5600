/**
 * @module
 * The Redis store (`RATE_LIMIT_STORE=redis`, `REDIS_URL`): per-key state in one Redis
 * shared by any number of limiter replicas, so three replicas admitting 100/min admit
 * 100/min together, not 300.
 *
 * - Each decision is one Lua script (its definition's `redis`, in `algorithms/<name>.ts`),
 *   atomic on the server, sent by `EVALSHA`; the scripts are loaded on every (re)connect,
 *   and a `NOSCRIPT` answer (a restarted or flushed Redis) falls back to `EVAL` of the
 *   source, which loads it again.
 * - Time is the Redis server's `TIME` read inside the script, so the replicas' clocks
 *   cannot skew a window (tests pass an injected `clock` instead).
 * - Keys are `<prefix><algorithm id>|<client key>`: a policy change starts afresh, as in
 *   the memory store. Every key expires once its state is back to full (+ `slackMs`).
 * - Failures never wait: `commandTimeout` bounds each call, the offline queue is off (a
 *   call while disconnected fails at once instead of queueing), and the client reconnects
 *   by itself with a capped backoff. `circuit.ts` keeps requests off a Redis that failed.
 *
 * - A refusal is remembered in the process until its `retryAfterMs` (Upstash's
 *   "ephemeral cache"): a flooding client's next requests are refused without a round
 *   trip, synchronously. Safe across replicas: until then nothing can admit this key (the
 *   others only count more), and the instant is taken when the reply arrives, after the
 *   script ran, so the wait is never shorter than the script's. Cost 1 only (what the data
 *   plane asks); a different cost goes to Redis. Bounded by `rejectCacheSize`.
 *
 * Client: ioredis (see the README for why), one connection; calls in flight are
 * pipelined on it (written as they come, answered in order).
 */
import { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import type { Algorithm, Decision, Store } from '../types.js';
import { type RedisScript, scripts } from './redis/index.js';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /** Prefix of every key this store writes. */
  prefix?: string;
  /** Longest wait for one call, in ms; past it the call fails (the fail mode applies). */
  timeoutMs?: number;
  /** Added to every key's expiry, ms. */
  slackMs?: number;
  /** Test clock: integer ms passed to the scripts instead of the server's `TIME`. */
  clock?: () => number;
  log?: Logger;
  /** Longest pause between reconnection attempts, ms. */
  maxReconnectDelayMs?: number;
  /** Keys whose refusal is remembered locally (0 = off). */
  rejectCacheSize?: number;
}

interface Refusal {
  /** Local clock (ms) from which the request may be admitted. */
  until: number;
  /** Local clock (ms) when the refusal was decided. */
  at: number;
  resetMs: number;
  limit: number;
}

/** The part of ioredis the store uses (for types only). */
type Reply = [number, number, number, number];

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly client: Redis;
  readonly prefix: string;
  readonly timeoutMs: number;
  /** Times a `NOSCRIPT` answer made the store send a script's source again. */
  scriptReloads = 0;
  /** Requests refused from the local refusal cache, without a round trip. */
  cachedRefusals = 0;
  readonly #refusals = new Map<string, Refusal>();
  readonly #refusalCap: number;
  readonly #localNow: () => number;
  readonly #slack: string;
  readonly #clock: (() => number) | undefined;
  readonly #log: Logger | undefined;

  /**
   * @param options.url - the server
   * @param [options.prefix="lab:rl:"]
   * @param [options.timeoutMs=50]
   * @param [options.slackMs=1000]
   * @param [options.maxReconnectDelayMs=1000]
   * @param [options.rejectCacheSize=10000]
   * @example
   * const store = new RedisStore({ url: 'redis://127.0.0.1:6379', timeoutMs: 50 });
   * const decision = await store.consume('k:abc', algorithm, 1);
   */
  constructor({
    url,
    prefix = 'lab:rl:',
    timeoutMs = 50,
    slackMs = 1000,
    clock,
    log,
    maxReconnectDelayMs = 1000,
    rejectCacheSize = 10_000,
  }: RedisStoreOptions) {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
      throw new Error(`timeoutMs must be a positive integer; got ${timeoutMs}`);
    this.prefix = prefix;
    this.timeoutMs = timeoutMs;
    this.#slack = String(Math.max(0, Math.round(slackMs)));
    this.#clock = clock;
    this.#log = log;
    this.#refusalCap = rejectCacheSize;
    this.#localNow = clock ?? (() => performance.now());
    this.client = new Redis(url, {
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(500, timeoutMs * 10),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Off on purpose: ioredis sends one auto-pipeline at a time and starts the next one's
      // timers only when it is sent, so behind a hung Redis a call could wait two timeouts.
      // Without it every call is written at once (still pipelined on the one socket).
      enableAutoPipelining: false,
      // Reconnect forever, 50 ms more per attempt, capped: a dead Redis is not hammered.
      retryStrategy: (attempt) => Math.min(attempt * 50, maxReconnectDelayMs),
      lazyConnect: false,
    });
    // Errors reach the callers as rejected calls; the circuit logs the state changes.
    this.client.on('error', (error: Error) => log?.debug('redis_error', { error }));
    this.client.on('ready', () => {
      log?.debug('redis_ready', { url: redactUrl(url) });
      void this.loadScripts().catch((error: unknown) => log?.debug('redis_script_load_failed', { error }));
    });
  }

  /**
   * Resolves once connected and ready, or `false` after `timeoutMs` (never rejects: the
   * limiter starts without Redis and applies its fail mode until Redis is there).
   */
  ready(timeoutMs = 2000): Promise<boolean> {
    if (this.client.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.on('ready', onReady);
    });
  }

  /** Loads every script (done on each connect; a missing one is reloaded on demand anyway). */
  async loadScripts(): Promise<void> {
    await Promise.all(Object.values(scripts).map((s) => this.client.script('LOAD', s.source)));
  }

  consume(key: string, algorithm: Algorithm, cost: number): Decision | Promise<Decision> {
    const script = scripts[algorithm.name];
    const { limit, windowMs, burst } = algorithm.params;
    const redisKey = `${this.prefix}${algorithm.id}|${key}`;
    if (cost === 1 && this.#refusalCap > 0) {
      const refusal = this.#refusals.get(redisKey);
      if (refusal !== undefined) {
        const now = this.#localNow();
        if (now < refusal.until) {
          this.cachedRefusals++;
          const elapsed = now - refusal.at;
          return {
            allowed: false,
            limit: refusal.limit,
            remaining: 0,
            resetMs: Math.max(0, Math.ceil(refusal.resetMs - elapsed)),
            retryAfterMs: Math.max(1, Math.ceil(refusal.until - now)),
          };
        }
        this.#refusals.delete(redisKey);
      }
    }
    const args = [
      redisKey,
      this.#clock === undefined ? '' : String(this.#clock()),
      String(cost),
      String(limit),
      String(windowMs),
      String(burst),
      this.#slack,
    ];
    return this.#run(script, args).then((reply) => {
      const decision = {
        allowed: reply[0] === 1,
        limit,
        remaining: reply[1],
        resetMs: reply[2],
        retryAfterMs: reply[3],
      };
      if (!decision.allowed && cost === 1 && this.#refusalCap > 0) this.#remember(redisKey, decision);
      return decision;
    });
  }

  #remember(redisKey: string, decision: Decision) {
    if (this.#refusals.size >= this.#refusalCap) {
      const now = this.#localNow();
      for (const [k, r] of this.#refusals) if (r.until <= now) this.#refusals.delete(k);
      if (this.#refusals.size >= this.#refusalCap) this.#refusals.clear();
    }
    const at = this.#localNow();
    this.#refusals.set(redisKey, {
      at,
      until: at + decision.retryAfterMs,
      resetMs: decision.resetMs,
      limit: decision.limit,
    });
  }

  #run(script: RedisScript, args: string[]): Promise<Reply> {
    return (this.client.evalsha(script.sha, 1, ...args) as Promise<Reply>).catch((error: Error) => {
      if (!String(error?.message).startsWith('NOSCRIPT')) throw error;
      this.scriptReloads++;
      this.#log?.info('redis_script_reloaded', { sha: script.sha });
      return this.client.eval(script.source, 1, ...args) as Promise<Reply>;
    });
  }

  /** -1: the keys live in Redis, shared with other replicas (see `countKeys`). */
  trackedKeys(): number {
    return -1;
  }

  /** Keys under this store's prefix, by SCAN (tests, debugging; O(keys)). */
  async countKeys(): Promise<number> {
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(
        cursor,
        'MATCH',
        `${escapeGlob(this.prefix)}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    return count;
  }

  /** Deletes every key under this store's prefix (and forgets the cached refusals). */
  async clear(): Promise<void> {
    this.#refusals.clear();
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(
        cursor,
        'MATCH',
        `${escapeGlob(this.prefix)}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      if (keys.length > 0) await this.client.unlink(...keys);
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    try {
      await Promise.race([
        this.client.quit(),
        new Promise((_, reject) => setTimeout(reject, 1000, new Error('quit timed out')).unref()),
      ]);
    } catch {
      // a dead Redis: just drop the connection
    }
    this.client.disconnect();
  }
}

/** `redis://user:secret@host` → `redis://user:***@host` (logs never carry the password). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid url)';
  }
}

const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');
