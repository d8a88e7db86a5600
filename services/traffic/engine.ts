/**
 * @module
 * The lab's one traffic engine: the console's good user and bad actor, `viz:lb`, `viz:rl`,
 * `attack`, `chaos`, `polite` and the incident fallbacks.
 *
 * - **Open model**: requests start on a clock (see `arrivals.ts`), never waiting for the
 *   previous answer, so an overloaded server shows as growing latency, not as less traffic.
 * - **Keep-alive**: one undici `Pool` per run, so the client costs little and measures the
 *   server, not TCP handshakes (the same choice the balancer makes for its upstreams).
 * - **Bounded**: a duration, a per-request timeout, and at most `maxInFlight` requests
 *   waiting; arrivals beyond it are counted as dropped, like k6's `dropped_iterations`.
 * - **Clean stop**: aborting `signal` (Ctrl-C) stops new arrivals, gives in-flight requests
 *   up to `graceMs` to finish, then cancels the rest and closes the connections.
 * - **Polite actors** (`waitMs` + `observe`, e.g. a `Politeness` from
 *   `loadtests/backoff.ts`): an arrival while the actor must wait is held back;
 *   the latest one held is sent the moment the wait ends, the others count as `held`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { type ArrivalPattern, due, nextArrivalAt } from './arrivals.js';
import { remainingFrom } from './ratelimit-header.js';
import type { RequestSpec } from './scenarios.js';
import type { Outcome } from './stats.js';

/**
 * What a polite actor observes of an answer: the shape of `loadtests/ratelimit-fields.ts`'s
 * `FieldResponse`, declared here so the engine builds without the k6 scripts' folder.
 */
export interface ObservedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

export interface TrafficActor {
  name: string;
  pattern: ArrivalPattern;
  /** The request of iteration `n` (0-based, per actor). */
  request: (n: number) => RequestSpec;
  /** A polite actor: ms it must still wait at elapsed time `at` (0 = may send). */
  waitMs?: (at: number) => number;
  /** Every answer (status and headers) at elapsed time `at`, its request sent at `sentAt`. */
  observe?: (at: number, response: ObservedResponse, sentAt: number) => void;
  /** A request of this actor goes out (`observe` gets its answer, `lost` its failure). */
  sending?: () => void;
  lost?: () => void;
}

export interface TrafficOptions {
  /** Base URL, e.g. `http://127.0.0.1:8081`. */
  target: string;
  actors: TrafficActor[];
  durationMs: number;
  /** Requests waiting at once (all actors); beyond it arrivals are dropped. [200] */
  maxInFlight?: number;
  /** Keep-alive connections in the pool. [min(maxInFlight, 64)] */
  connections?: number;
  /** Per-request timeout, counted as status 0 / `timeout`. [5000] */
  timeoutMs?: number;
  /** After the end (or abort), how long in-flight requests may still finish. [timeoutMs] */
  graceMs?: number;
  /** Abort to stop early (Ctrl-C). */
  signal?: AbortSignal;
  onOutcome?: (outcome: Outcome) => void;
  onDrop?: (actor: string) => void;
  /** An arrival a polite actor did not send (it was waiting, and a later one replaced it). */
  onHold?: (actor: string) => void;
  /** Monotonic clock in ms. [performance.now] */
  now?: () => number;
}

export interface TrafficResult {
  elapsedMs: number;
  /** Arrivals per actor (the offered load): sent, dropped or held. */
  started: Record<string, number>;
  /** Arrivals polite actors held back and never sent. */
  held: Record<string, number>;
  /** Why the run ended. */
  reason: 'duration' | 'aborted';
}

function errorName(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError') {
      return 'timeout';
    }
    if (typeof code === 'string') return code;
    if (typeof name === 'string') return name;
  }
  return 'error';
}

/**
 * Runs the actors against `target` until the duration ends or `signal` aborts.
 * @example
 * await runTraffic({ target: 'http://127.0.0.1:8081', durationMs: 5_000,
 *   actors: [{ name: 'client', pattern: { kind: 'rate', rate: 20 }, request: () => ({ method: 'GET', path: '/', headers: {} }) }],
 *   onOutcome: (o) => console.log(o.status) });
 */
export async function runTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const {
    target,
    actors,
    durationMs,
    maxInFlight = 200,
    timeoutMs = 5_000,
    signal,
    onOutcome = () => {},
    onDrop = () => {},
    onHold = () => {},
    now = () => performance.now(),
  } = options;
  const graceMs = options.graceMs ?? timeoutMs;
  if (!(durationMs > 0)) throw new Error(`durationMs must be positive, got ${durationMs}`);
  if (!(maxInFlight > 0)) throw new Error(`maxInFlight must be positive, got ${maxInFlight}`);
  const connections = options.connections ?? Math.min(maxInFlight, 64);
  const pool = new Pool(new URL(target).origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: { timeout: timeoutMs },
  });
  const cancel = new AbortController();
  const pending = new Set<Promise<void>>();
  const started: Record<string, number> = Object.fromEntries(actors.map((a) => [a.name, 0]));
  const held: Record<string, number> = Object.fromEntries(actors.map((a) => [a.name, 0]));
  /** A polite actor's latest held-back arrival (its iteration), sent when the wait ends. */
  const deferred = new Map<TrafficActor, number>();
  const start = now();
  const basePath = new URL(target).pathname.replace(/\/$/, '');

  async function send(actor: TrafficActor, n: number): Promise<void> {
    const spec = actor.request(n);
    const t0 = now();
    const outcome: Outcome = { actor: actor.name, status: 0, latencyMs: 0, at: 0 };
    actor.sending?.();
    try {
      const response = await pool.request({
        path: basePath + spec.path,
        method: spec.method as 'GET',
        headers: spec.headers,
        body: spec.body ?? null,
        signal: AbortSignal.any([cancel.signal, AbortSignal.timeout(timeoutMs)]),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await response.body.dump({ limit: 1 << 20 });
      outcome.status = response.statusCode;
      actor.observe?.(now() - start, { status: response.statusCode, headers: response.headers }, t0 - start);
      const upstream = response.headers['x-upstream'] ?? response.headers['x-node-id'];
      if (upstream) outcome.upstream = String(upstream);
      const remaining = remainingFrom(response.headers);
      if (remaining !== undefined) outcome.remaining = remaining;
    } catch (error) {
      outcome.error = cancel.signal.aborted ? 'cancelled' : errorName(error);
      if (outcome.status === 0) actor.lost?.();
    }
    const t1 = now();
    outcome.latencyMs = t1 - t0;
    outcome.at = t1 - start;
    if (outcome.error !== 'cancelled') onOutcome(outcome);
  }

  function hold(actor: TrafficActor): void {
    held[actor.name] = (held[actor.name] as number) + 1;
    onHold(actor.name);
  }

  function launch(actor: TrafficActor): void {
    const n = started[actor.name] as number;
    started[actor.name] = n + 1;
    if (actor.waitMs && actor.waitMs(now() - start) > 0) {
      if (deferred.has(actor)) hold(actor);
      deferred.set(actor, n);
      return;
    }
    dispatch(actor, n);
  }

  function dispatch(actor: TrafficActor, n: number): void {
    if (pending.size >= maxInFlight) {
      onDrop(actor.name);
      return;
    }
    const job = send(actor, n).finally(() => pending.delete(job));
    pending.add(job);
  }

  let reason: TrafficResult['reason'] = 'duration';
  for (;;) {
    if (signal?.aborted) {
      reason = 'aborted';
      break;
    }
    const elapsed = now() - start;
    // Arrivals due before the end are all sent, even when a stalled event loop wakes late.
    const upTo = Math.min(elapsed, durationMs - 1e-6);
    let next = durationMs;
    for (const actor of actors) {
      const target = due(actor.pattern, upTo);
      while ((started[actor.name] as number) < target) launch(actor);
      next = Math.min(next, nextArrivalAt(actor.pattern, started[actor.name] as number));
      const waiting = deferred.get(actor);
      if (waiting !== undefined && actor.waitMs) {
        const wait = actor.waitMs(now() - start);
        if (wait > 0) {
          next = Math.min(next, now() - start + wait);
        } else if (elapsed < durationMs) {
          deferred.delete(actor);
          dispatch(actor, waiting);
        }
      }
    }
    if (elapsed >= durationMs) break;
    const wait = Math.max(1, Math.min(next - (now() - start), 250));
    try {
      await sleep(wait, undefined, signal ? { signal } : undefined);
    } catch {
      // aborted: the loop head notices
    }
  }

  const elapsedMs = now() - start;
  for (const actor of deferred.keys()) hold(actor);
  if (pending.size > 0) {
    const settled = Promise.allSettled([...pending]);
    const timer = sleep(graceMs, 'timeout' as const, { ref: false });
    if ((await Promise.race([settled, timer])) === 'timeout') cancel.abort();
    await settled;
  }
  await pool.close();
  return { elapsedMs, started, held, reason };
}
