/**
 * @module
 * The proxies' shared data-plane hot path: keep-alive upstream pools and `forward()`,
 * which sends one `node:http` request to an upstream with undici's `Pool.dispatch()`
 * and streams the answer straight back into the `ServerResponse`.
 *
 * Why this shape: on Node 20 the per-request JavaScript objects are the cost of a proxy
 * hop, not the syscalls. fetch, WHATWG Request/Response/streams and even
 * `pool.request()` cost 20–90 % of throughput against `dispatch()` with one small
 * handler object (see /work/shared/reference/proxy-ceilings.md and the README's
 * Performance section). So there is exactly one object per try (`ForwardTry`), raw
 * header arrays go in and out without building header maps, and nothing here allocates
 * a Promise.
 *
 * What `forward()` does for every try:
 * - forwards method, path + query, and the body (streamed; none for a bodyless request);
 * - refuses a body over `bodyLimit` with its own 413: at once when Content-Length says so,
 *   or as soon as a chunked body grows past it (nothing beyond the limit goes upstream);
 * - strips hop-by-hop headers both ways (RFC 9110 §7.6.1: `Connection` and the names
 *   it lists, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`,
 *   `Upgrade`), plus `Host` (the pool sets the upstream's) and `Expect`;
 * - appends the client address to `X-Forwarded-For`, sets `X-Forwarded-Proto` and
 *   `X-Forwarded-Host` (or keeps the incoming ones with `trustForwarded`);
 * - passes the upstream status code through unchanged and adds `responseHeaders`;
 * - applies a per-try timeout (time to the response headers, and between body chunks);
 * - reports one {@link ForwardOutcome} to `onDone`, which may take over a failed try
 *   that has sent nothing to the client yet (the balancer retries it elsewhere);
 *   otherwise a failure becomes a 502 (or 504 on timeout) problem+json.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { discardRequestBody } from './discard.js';
import { DRAIN_HEADER } from './drain.js';
import { HOP_BY_HOP_RESPONSE, type RequestFacts, upstreamRequestHeaders } from './headers.js';
import { errorKind, type ForwardErrorKind, type ForwardOutcome } from './outcome.js';
import { type Problem, sendProblem } from './problem.js';
import { requestTargetProblem } from './request-target.js';

/** The `route` label for every proxied request in `http_requests_total` (see metrics.ts). */
export const PROXY_ROUTE = '/*';

export interface ForwardOptions {
  /**
   * Per-try timeout in ms: the upstream must send its headers, and then each body chunk,
   * within this. 0 disables it.
   */
  timeoutMs?: number;
  /** Extra response headers, flat `[name, value, name, value, ...]` (e.g. `X-Upstream`). */
  responseHeaders?: readonly string[];
  /** A request body the caller already read (e.g. to hash on it); sent instead of streaming `req`. */
  body?: Buffer;
  /** Keep incoming `X-Forwarded-Proto`/`-Host` (behind a trusted proxy) instead of setting them. */
  trustForwarded?: boolean;
  /**
   * Largest request body forwarded, in bytes (BODY_LIMIT); 0 = no limit. A larger one is
   * answered 413 by the proxy (see {@link ForwardOutcome.refused}), never half-sent.
   */
  bodyLimit?: number;
  /**
   * Called once when the try ends. Return `true` from a failed try with `sent === false`
   * to take the response over (e.g. retry on another upstream, calling `forward` again);
   * otherwise `forward` answers 502, or 504 on timeout, itself. It is called as a method
   * of the options object, so a per-request class instance can be the options (no
   * closure per request).
   */
  onDone?(outcome: ForwardOutcome): boolean | undefined;
}

const UPSTREAM_TIMED_OUT: Problem = { status: 504, title: 'Gateway Timeout', detail: 'upstream timed out' };

/**
 * The proxies' own 413 for a request body over BODY_LIMIT; the rest of the body is read
 * away (see `discard.ts`), so the client reads the answer.
 */
export function sendTooLarge(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  extraHeaders?: readonly string[],
): void {
  sendProblem(
    res,
    {
      status: 413,
      title: 'Content Too Large',
      detail: `the request body is larger than BODY_LIMIT (${limit} bytes)`,
    },
    extraHeaders,
    req,
  );
}

const noop = () => {};
const kTry = Symbol('forwardTry');
type TrackedResponse = ServerResponse & { [kTry]?: ForwardTry };

/** Shared listeners (no closure per request): `this` is the ServerResponse. */
function onResponseClose(this: TrackedResponse): void {
  const attempt = this[kTry];
  if (attempt && !attempt.done && !this.writableFinished) attempt.abortUpstream?.(new ClientAbortError());
}
function onResponseDrain(this: TrackedResponse): void {
  this[kTry]?.resumeUpstream();
}

/**
 * One try of one request: the undici dispatch handler (legacy callbacks, the cheapest
 * path in undici 7), the client-side bookkeeping, and the outcome `onDone` receives,
 * all in one object.
 */
class ForwardTry implements Dispatcher.DispatchHandler, ForwardOutcome, RequestFacts {
  status = 0;
  error: ForwardErrorKind | undefined = undefined;
  cause: Error | undefined = undefined;
  sent = false;
  headersMs = -1;
  durationMs = 0;
  draining = false;
  refused = false;
  done = false;
  hasBody = false;
  contentLength = -1;
  /** Counts a chunked body on its way upstream, when there is a limit. */
  bodyLimiter: BodyLimiter | undefined = undefined;
  abortUpstream: ((error?: Error) => void) | undefined = undefined;
  resumeUpstream: () => void = noop;
  readonly start = performance.now();

  constructor(
    readonly req: IncomingMessage,
    readonly res: TrackedResponse,
    readonly options: ForwardOptions,
  ) {}

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.res.destroyed) abort(new ClientAbortError());
    // The body starts to flow only once connected: a try whose connect failed leaves it
    // unread, so it may still go to another upstream (`isRetryable`).
    else if (this.bodyLimiter) this.req.pipe(this.bodyLimiter);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (status < 200) return true; // 1xx: informational, not relayed
    this.status = status;
    this.headersMs = performance.now() - this.start;
    this.resumeUpstream = resume;
    const extra = this.options.responseHeaders;
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as Buffer).toString('latin1');
      const lower = name.toLowerCase();
      if (HOP_BY_HOP_RESPONSE.has(lower)) {
        if (lower === DRAIN_HEADER) this.draining = true;
        continue;
      }
      headers.push(name, (raw[i + 1] as Buffer).toString('latin1'));
    }
    if (extra) for (let i = 0; i < extra.length; i++) headers.push(extra[i] as string);
    const res = this.res;
    if (res.destroyed) return false;
    this.sent = true;
    // While the server drains, the response already has `X-Draining` set (and keep-alive
    // off); Node 20's writeHead would then keep only the last of repeated names such as
    // two Set-Cookie, so those few responses append their headers one by one.
    if (!res.shouldKeepAlive && res.hasHeader(DRAIN_HEADER))
      writeHeadAppending(res, status, statusText, headers);
    else res.writeHead(status, statusText || undefined, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', onResponseDrain);
    return false;
  }

  onComplete(): void {
    this.res.end();
    this.discardUnsentBody();
    this.finish(undefined, undefined);
  }

  onError(error: Error): void {
    if (error instanceof BodyTooLargeError && !this.sent) {
      refuseTooLarge(this, error.limit);
      return;
    }
    const kind = error instanceof ClientAbortError || this.res.destroyed ? 'aborted' : errorKind(error);
    if (this.sent) {
      // Headers are out: the only honest signal left is to cut the client connection.
      this.res.destroy();
      this.finish(kind, error);
      return;
    }
    if (this.finish(kind, error) || kind === 'aborted') return;
    if (kind === 'timeout') sendProblem(this.res, UPSTREAM_TIMED_OUT, this.options.responseHeaders);
    else
      sendProblem(
        this.res,
        { status: 502, title: 'Bad Gateway', detail: `upstream failed: ${kind}` },
        this.options.responseHeaders,
      );
    this.discardUnsentBody();
  }

  /**
   * After an answer sent before the client finished its body (an upstream's early 413,
   * or this proxy's own 502): undici drops the body stream, which would leave the client's
   * connection paused with the rest of the upload unread until REQUEST_TIMEOUT_MS.
   * Read and discard it instead, as Node does for a handler that never reads its request
   * (nginx's lingering close), so the client reads its answer and keeps its connection.
   */
  discardUnsentBody(): void {
    const req = this.req;
    if (!this.hasBody || req.complete || this.options.body !== undefined) return;
    if (this.bodyLimiter) req.unpipe(this.bodyLimiter);
    discardRequestBody(req);
  }

  /** Reports the outcome; true when `onDone` took the response over. */
  finish(error: ForwardErrorKind | undefined, cause: Error | undefined): boolean {
    if (this.done) return true;
    this.done = true;
    this.error = error;
    this.cause = cause;
    this.durationMs = performance.now() - this.start;
    const res = this.res;
    if (res[kTry] === this) res[kTry] = undefined;
    res.off('close', onResponseClose);
    // Called as a method, so `options` may be a class instance with an `onDone` method.
    return this.options.onDone?.(this) === true;
  }
}

/** `writeHead` for a response with headers set beforehand, keeping repeated header names. */
function writeHeadAppending(
  res: ServerResponse,
  status: number,
  statusText: string,
  headers: string[],
): void {
  for (let i = 0; i < headers.length; i += 2)
    res.appendHeader(headers[i] as string, headers[i + 1] as string);
  res.writeHead(status, statusText || undefined);
}

class ClientAbortError extends Error {
  readonly code = 'UND_ERR_ABORTED';
  constructor() {
    super('client closed the connection');
    this.name = 'ClientAbortError';
  }
}

/** A chunked request body grew past the proxy's limit. */
class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Passes a chunked request body upstream while it stays within `limit`; the chunk that
 * crosses it fails the stream, undici aborts the try, and the proxy answers 413 (that
 * chunk never leaves). Once the upstream has answered, the rest is dropped instead: its
 * answer is the one the client reads. Only chunked bodies need it: Node's parser holds a
 * Content-Length body to its declared length, which `forward` checks up front.
 */
class BodyLimiter extends Transform {
  received = 0;

  constructor(
    readonly attempt: ForwardTry,
    readonly limit: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received <= this.limit) callback(null, chunk);
    else if (this.attempt.sent) callback();
    else callback(new BodyTooLargeError(this.limit));
  }
}

/** Answers 400 before anything is sent upstream; still reports one outcome to `onDone`. */
function refuse(attempt: ForwardTry, problem: string): void {
  sendProblem(attempt.res, { status: 400, title: 'Bad Request', detail: problem });
  refused(attempt, 400);
}

/**
 * Answers 413 for a body over the limit and reads the rest of it away, so the client
 * reads the answer on a connection that stays usable (nginx's `client_max_body_size`
 * with its lingering close). REQUEST_TIMEOUT_MS bounds a body that never ends.
 */
function refuseTooLarge(attempt: ForwardTry, limit: number): void {
  if (attempt.bodyLimiter) attempt.req.unpipe(attempt.bodyLimiter);
  sendTooLarge(attempt.req, attempt.res, limit, attempt.options.responseHeaders);
  refused(attempt, 413);
}

function refused(attempt: ForwardTry, status: number): void {
  attempt.status = status;
  attempt.sent = true;
  attempt.refused = true;
  attempt.finish(undefined, undefined);
}

/**
 * Proxies `req` to `pool` and streams the answer into `res`. Never throws; the result
 * is reported through `options.onDone` (see {@link ForwardOutcome}).
 *
 * @param req - the client request (its body is streamed upstream when it has one)
 * @param res - the client response; untouched until the upstream answers or fails
 * @param pool - from {@link createUpstreamPool}
 * @param [options.timeoutMs=0] - per-try timeout (0 = none)
 * @param [options.responseHeaders] - added to the upstream's response headers and to error answers
 * @param [options.trustForwarded=false]
 * @param [options.bodyLimit=0] - a larger request body is answered 413 (0 = no limit)
 * @param [options.onDone] - outcome callback; return true to take over a failed try
 * @example
 * const pool = createUpstreamPool('http://127.0.0.1:5001');
 * startService({ ..., dataPlane: (req, res) => forward(req, res, pool, {
 *   timeoutMs: 5_000,
 *   responseHeaders: ['x-upstream', '127.0.0.1:5001'],
 *   onDone: (o) => { metrics.recordRequest('/*', methodLabel(req.method), o.status || res.statusCode, o.durationMs / 1000); return false; },
 * }) });
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  pool: Dispatcher,
  options: ForwardOptions = {},
): void {
  const path = req.url ?? '/';
  const attempt = new ForwardTry(req, res, options);
  const problem = requestTargetProblem(path);
  if (problem !== undefined) {
    // Absolute-form, `OPTIONS *`, or a path the upstream would normalise into another
    // route (`/x/../admin`, `/%61dmin`, `/metrics#x`): not for this proxy. Still one onDone.
    refuse(attempt, problem);
    return;
  }
  const headers = upstreamRequestHeaders(req, options.trustForwarded, attempt);
  if (attempt.hasBody && req.method === 'HEAD') {
    // undici closes its connection after a HEAD (undici issue #258); a body still being
    // streamed then meets the closed socket, and now and then the try failed as a 502
    // (found by tests/fuzz-proxies.test.ts). Content in a HEAD request has no defined
    // meaning and may be refused (RFC 9110 §9.3.2).
    refuse(attempt, 'a HEAD request must not have a body');
    return;
  }
  const bodyLimit = options.bodyLimit ?? 0;
  if (attempt.hasBody && bodyLimit > 0 && options.body === undefined) {
    if (attempt.contentLength > bodyLimit) {
      refuseTooLarge(attempt, bodyLimit);
      return;
    }
    if (attempt.contentLength < 0) attempt.bodyLimiter = new BodyLimiter(attempt, bodyLimit);
  }
  (res as TrackedResponse)[kTry] = attempt;
  res.on('close', onResponseClose); // removed when the try finishes
  const timeout = options.timeoutMs ?? 0;
  pool.dispatch(
    {
      path,
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body: options.body ?? attempt.bodyLimiter ?? (attempt.hasBody ? req : null),
      headersTimeout: timeout,
      bodyTimeout: timeout,
    },
    attempt,
  );
}
