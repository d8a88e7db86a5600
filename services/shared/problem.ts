/**
 * @module
 * The one writer of the services' own refusals on the data plane, as problem details
 * (RFC 9457, `application/problem+json`): a refused request target or body, a request
 * Node's parser refused, no healthy upstream, an upstream that failed or timed out, a
 * rate-limit store that is down, the 429. `type` is `about:blank` unless a registered
 * type fits (the 429's `quota-exceeded`), so `title` is the status's name and `detail`
 * says what this request did wrong. (The control plane answers with Hono's
 * `HTTPException`s, see `admin.ts`.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { endBeforeBody } from './discard.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  /** A problem type URI; `about:blank` when absent. */
  type?: string;
  status: number;
  title: string;
  detail: string;
  /** Extension members, e.g. the limiter's `cause` and `tries`. */
  [member: string]: unknown;
}

/** The JSON text of a problem, `type` first. */
export function problemJson({ type = 'about:blank', status, title, detail, ...members }: Problem): string {
  return JSON.stringify({ type, title, status, detail, ...members });
}

/**
 * The JSON text of `problem` up to the value of one last member, which each answer
 * appends, then `}`: the 429 is built from its policy's prefix and `retry_after`, with no
 * stringify per rejection.
 */
export function problemJsonPrefix(problem: Problem, lastMember: string): string {
  return `${problemJson(problem).slice(0, -1)},${JSON.stringify(lastMember)}:`;
}

/**
 * The head of a problem answer, flat `[name, value, ...]`: its `Content-Type` and the
 * body's length in bytes, for a caller that pushes its own fields after them.
 */
export function problemHeaders(bytes: number): string[] {
  return ['content-type', PROBLEM_CONTENT_TYPE, 'content-length', String(bytes)];
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
  const headers = problemHeaders(Buffer.byteLength(body));
  for (let i = 0; i < extraHeaders.length; i++) headers.push(extraHeaders[i] as string);
  res.writeHead(problem.status, headers);
  if (unreadBody) endBeforeBody(unreadBody, res, body);
  else res.end(body);
}
