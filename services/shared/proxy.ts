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
 *   otherwise a failure becomes 502 (or 504 on timeout) JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { type Dispatcher, Pool } from 'undici';
import { discardRequestBody } from './discard.js';
import { DRAIN_HEADER } from './drain.js';
import { sendProblem } from './problem.js';
import { requestTargetProblem } from './request-target.js';

/** The `route` label for every proxied request in `http_requests_total` (see metrics.ts). */
export const PROXY_ROUTE = '/*';

export interface UpstreamPoolOptions {
  /** Sockets kept per upstream (undici's `connections`). */
  connections?: number;
  /** Idle keep-alive sockets are closed after this long; keep it below the upstream's own. */
  keepAliveTimeoutMs?: number;
  /** TCP connect timeout; a timed-out connect counts as a connect failure. */
  connectTimeoutMs?: number;
}

/**
 * A keep-alive connection pool to one upstream origin, without pipelining (a slow
 * response never holds up a request queued behind it on the same socket).
 *
 * @param origin - `http://host:port`
 * @param [options.connections=128]
 * @param [options.keepAliveTimeoutMs=60000] - below the lab services' 65 s server keep-alive
 * @param [options.connectTimeoutMs=2000]
 * @example
 * const pool = createUpstreamPool('http://127.0.0.1:5001');
 * await pool.close(); // on shutdown
 */
export function createUpstreamPool(
  origin: string,
  { connections = 128, keepAliveTimeoutMs = 60_000, connectTimeoutMs = 2_000 }: UpstreamPoolOptions = {},
): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: keepAliveTimeoutMs,
    keepAliveMaxTimeout: Math.max(keepAliveTimeoutMs, 600_000),
    connect: { timeout: connectTimeoutMs },
  });
}

/**
 * How a try failed:
 * - `connect`: no connection to the upstream (refused, unreachable, DNS, connect timeout);
 *   the request never reached it.
 * - `socket`: the connection broke before the response was complete (e.g. the upstream
 *   was killed); the upstream may have seen the request.
 * - `timeout`: no response headers, or no body chunk, within the per-try timeout.
 * - `aborted`: the client went away first; nothing more can be sent.
 * - `other`: anything else (an invalid request undici refused, a bad upstream response).
 */
export type ForwardErrorKind = 'connect' | 'socket' | 'timeout' | 'aborted' | 'other';

/** What happened to one try, reported once through `onDone`. */
export interface ForwardOutcome {
  /** The upstream's status code, or 0 when no response headers arrived. */
  status: number;
  /** Undefined when the whole response was relayed. */
  error: ForwardErrorKind | undefined;
  /** The underlying error, for logs. */
  cause: Error | undefined;
  /** Whether anything (status line, headers) was written to the client by this try. */
  sent: boolean;
  /** Milliseconds from dispatch to the response headers (-1 when none arrived). */
  headersMs: number;
  /** Milliseconds from dispatch to the end of this try. */
  durationMs: number;
  /**
   * The proxy answered the request itself (a refused request target or body): no
   * upstream saw it, so the try says nothing about one.
   */
  refused: boolean;
  /**
   * The upstream announced that it is draining (`X-Draining` on its response, see
   * `drain.ts`): still a valid answer, but pick another upstream from now on. The header
   * describes this hop only, so it is consumed here and never relayed.
   */
  draining: boolean;
}

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

/** Request headers never forwarded (lower case). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);
/** Response headers never relayed (lower case); the drain announcement is read, then dropped. */
const HOP_BY_HOP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  DRAIN_HEADER,
]);

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

/** Classifies an undici/socket error. */
export function errorKind(error: Error): ForwardErrorKind {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (SOCKET_CODES.has(code)) return 'socket';
  if (code === 'UND_ERR_ABORTED') return 'aborted';
  return 'other';
}

/**
 * The status the client sees for a try that `onDone` does not take over: the upstream's
 * own when it answered, else the proxy's (504 on timeout, 502 otherwise, 499 when the
 * client left first, as nginx logs it). For metrics, recorded from `onDone`.
 */
export function clientStatus(outcome: ForwardOutcome): number {
  if (outcome.error === undefined || outcome.sent) return outcome.status;
  if (outcome.error === 'aborted') return 499;
  return outcome.error === 'timeout' ? 504 : 502;
}

/**
 * Whether a failed try may be sent again (to another upstream, or later): nothing
 * reached the client, and either
 * - the connection was never made (`connect`): the upstream never saw the request, so any
 *   method may go again, as nginx's `proxy_next_upstream error` does, provided its body
 *   can be sent again: none, one the caller buffered (`bodyBuffered`), or a streamed one
 *   nobody has read from yet (undici writes the body only after connecting); or
 * - the connection broke (`socket`, e.g. a keep-alive socket the upstream closed as the
 *   request was written): the upstream may have seen it, so only an idempotent method
 *   (RFC 9110 §9.2.2) without a body goes again.
 *
 * @param [bodyBuffered=false] - the try sent `options.body`, not the request stream
 */
export function isRetryable(req: IncomingMessage, outcome: ForwardOutcome, bodyBuffered = false): boolean {
  if (outcome.sent) return false;
  if (outcome.error === 'connect') return bodyBuffered || !req.readableDidRead || !hasBody(req);
  return outcome.error === 'socket' && IDEMPOTENT.has(req.method ?? '') && !hasBody(req);
}
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * A request carries a body when it declares a non-zero length or a transfer coding.
 * Reads `rawHeaders`, so Node never has to build the `req.headers` object.
 */
export function hasBody(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'transfer-encoding') return true;
    if (name === 'content-length' && raw[i + 1] !== '0') return true;
  }
  return false;
}

/** What the header scan learnt besides the headers (kept on the try: no allocation). */
interface RequestFacts {
  hasBody: boolean;
  /** The declared Content-Length; -1 when there is none (chunked, or no body). */
  contentLength: number;
}

/**
 * The request headers to send upstream, flat `[name, value, ...]`: hop-by-hop headers
 * dropped, `X-Forwarded-For` appended, `X-Forwarded-Proto`/`-Host` set (or kept with
 * `trustForwarded`). One pass over `rawHeaders`: on Node 20, reading `req.headers`
 * builds a whole header object per request, which the hot path cannot afford.
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  trustForwarded = false,
  facts: RequestFacts = { hasBody: false, contentLength: -1 },
): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  let connection: string | undefined;
  let body = false;
  let contentLength = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower)) {
      if (lower === 'content-length') {
        // Node's parser has checked it: digits only, one value.
        contentLength = Number(value);
        if (contentLength > 0) body = true;
      }
      out.push(name, value);
      continue;
    }
    switch (lower) {
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'x-forwarded-proto':
        forwardedProto ??= value;
        break;
      case 'x-forwarded-host':
        forwardedHost ??= value;
        break;
      case 'host':
        host = value;
        break;
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 'transfer-encoding':
        body = true;
        break;
    }
  }
  facts.hasBody = body;
  facts.contentLength = contentLength;
  // Names listed in `Connection` are hop-by-hop too (the usual `keep-alive` lists none).
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    const listed = new Set(connection.split(',').map((token) => token.trim().toLowerCase()));
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (listed.has((out[i] as string).toLowerCase())) out.splice(i, 2);
    }
  }
  const client = req.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client}` : client);
  out.push('x-forwarded-proto', (trustForwarded && forwardedProto) || 'http');
  const forwardedHostValue = (trustForwarded && forwardedHost) || host;
  if (forwardedHostValue) out.push('x-forwarded-host', forwardedHostValue);
  return out;
}

/** A preset JSON error answer (the proxy's own, not an upstream's). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: object,
  extraHeaders: readonly string[] = [],
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(payload)),
    ...extraHeaders,
  ]);
  res.end(payload);
}

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
    if (kind === 'timeout')
      sendJson(this.res, 504, { error: 'upstream timed out' }, this.options.responseHeaders);
    else sendJson(this.res, 502, { error: `upstream failed: ${kind}` }, this.options.responseHeaders);
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
  sendJson(attempt.res, 400, { error: problem });
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
