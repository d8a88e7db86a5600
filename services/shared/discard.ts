/**
 * @module
 * Reading away the rest of a request body after an answer that did not need it (a 413,
 * or an upstream's early answer), so the client reads that answer and its keep-alive
 * connection stays usable: nginx's lingering close. Closing instead, with the upload
 * still arriving, makes the kernel reset the connection, and a client still writing its
 * body (or a proxy's pool) meets EPIPE or ECONNRESET instead of the answer.
 * REQUEST_TIMEOUT_MS bounds a body that never ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Context } from 'hono';

/** Longest wait for the rest of a refused body before a closing connection closes (nginx's `lingering_time` is 30 s). */
export const LINGER_MS = 30_000;

/** Longest a connection the parser gave up on stays open after its answer (nginx's `lingering_timeout` is 5 s). */
export const LINGER_CLOSE_MS = 5_000;

/**
 * Reads and drops what is left of `req`'s body. `_dump` is what Node's server itself
 * calls for a request nobody read (the parser then drops the body instead of buffering
 * it, even once a reader has destroyed the stream); the socket is resumed too, in case
 * backpressure had paused it.
 */
export function discardRequestBody(req: IncomingMessage): void {
  if (req.complete) return;
  const socket = req.socket;
  (req as IncomingMessage & { _dump(): void })._dump();
  if (socket && !socket.destroyed) socket.resume();
}

/** {@link discardRequestBody} for the request behind a Hono context (a no-op under `app.request`). */
export function discardUnreadBody(c: Context): void {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) discardRequestBody(incoming);
}

/**
 * Ends an answer given before the request's body was all read, and reads the rest away.
 * On a keep-alive connection that is all: Node parses the next request once the body is
 * through. On a connection that closes after the answer (the client sent `Connection:
 * close`), Node closes as soon as the answer ends, and a client still writing its body
 * meets a reset instead of the answer; so the answer is written whole, but ended (and
 * the connection closed) only once the body is in, or after {@link LINGER_MS}.
 */
export function endBeforeBody(req: IncomingMessage, res: ServerResponse, payload: string): void {
  if (req.complete) {
    res.end(payload);
    return;
  }
  discardRequestBody(req);
  if (res.shouldKeepAlive) {
    res.end(payload);
    return;
  }
  res.write(payload);
  const end = () => {
    clearTimeout(timer);
    req.off('end', end);
    req.off('close', end);
    res.end();
  };
  const timer = setTimeout(end, LINGER_MS);
  timer.unref();
  req.once('end', end);
  req.once('close', end);
}

/**
 * Answers a connection the parser gave up on (a 408 for headers that never end, a 400 for
 * bytes that are not HTTP) and closes it the lingering way: the answer goes out with a FIN,
 * whatever the client still sends is read and dropped, and the socket is destroyed once the
 * client closes its side, or after {@link LINGER_CLOSE_MS}. Destroying it at once, with the
 * client's bytes still arriving, makes the kernel answer them with a reset that can reach
 * the client before it has read the answer.
 */
export function lingeringClose(socket: Socket, answer: Uint8Array): void {
  socket.end(answer);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_CLOSE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
