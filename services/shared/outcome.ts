/**
 * @module
 * What one proxied try ended as ({@link ForwardOutcome}), and what follows from it: how an
 * undici/socket error is classified, the status the client sees, and whether the try may
 * be sent again.
 */
import type { IncomingMessage } from 'node:http';
import { hasBody } from './headers.js';

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
