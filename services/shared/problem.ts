/**
 * @module
 * The one writer of the services' own refusals on the data plane, as problem details
 * (RFC 9457, `application/problem+json`): a body over the limit, a request Node's parser
 * refused, an upstream that failed. `type` is always `about:blank`, so `title` is the
 * status's name and `detail` says what this request did wrong.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { endBeforeBody } from './discard.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** Extension members, e.g. the limiter's `cause` and `tries`. */
  [member: string]: unknown;
}

/** The JSON text of a problem, `type` first. */
export function problemJson({ status, title, detail, ...members }: Problem): string {
  return JSON.stringify({ type: 'about:blank', title, status, detail, ...members });
}

/**
 * Answers `problem` on `res` (nothing when an answer already started).
 * @param [extraHeaders] - flat `[name, value, ...]`, e.g. `retry-after`
 * @param [unreadBody] - the request, when its body is refused unread: the rest is read
 *   away and a closing connection lingers until it is in (see `discard.ts`)
 */
export function sendProblem(
  res: ServerResponse,
  problem: Problem,
  extraHeaders: readonly string[] = [],
  unreadBody?: IncomingMessage,
): void {
  if (res.headersSent || res.destroyed) return;
  const body = problemJson(problem);
  res.writeHead(problem.status, [
    'content-type',
    PROBLEM_CONTENT_TYPE,
    'content-length',
    String(Buffer.byteLength(body)),
    ...extraHeaders,
  ]);
  if (unreadBody) endBeforeBody(unreadBody, res, body);
  else res.end(body);
}
