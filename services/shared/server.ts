/**
 * @module
 * Server lifecycle shared by every service: listen, split control plane from data
 * plane, and shut down gracefully.
 *
 * The control plane (`/healthz`, `/metrics`, `/admin/*`, and everything of the node
 * service) is a Hono app. The proxies' data plane is a plain `node:http` handler:
 * WHATWG Request/Response objects per proxied request cost 20–90 % of throughput on
 * Node 20 (see the README's Performance section), so the hot path never builds them.
 *
 * On SIGTERM/SIGINT the server first announces the drain for `drainDelayMs` (see
 * `drain.ts`: health answers 503, every response carries `X-Draining: 1` and
 * `Connection: close`, idle keep-alive sockets are closed so clients reconnect while the
 * listener is still open), then stops accepting, lets in-flight requests finish (their
 * sockets close as they go quiet), forces the rest closed at the deadline, runs the
 * service's shutdown hooks and exits 0. A second signal cuts the drain delay short.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, ListenOptions, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { ConfigError } from './config.js';
import { lingeringClose } from './discard.js';
import { DRAIN_HEADER, Drain } from './drain.js';
import type { Logger } from './logger.js';
import { methodLabel, type ServiceMetrics } from './metrics.js';
import { PROBLEM_CONTENT_TYPE, type Problem, problemJson, sendProblem } from './problem.js';

export type DataPlane = (req: IncomingMessage, res: ServerResponse) => void;

/** The proxies' own paths, answered by Hono; everything else is proxied. */
export function isControlPath(url: string): boolean {
  return hasPrefix(url, '/healthz') || hasPrefix(url, '/metrics') || hasPrefix(url, '/admin');
}

/** `url` is `prefix` itself, or `prefix` followed by `/` or `?`. */
function hasPrefix(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false;
  const next = url.charCodeAt(prefix.length);
  return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */;
}

/**
 * Header fields a request may carry (HAProxy's default is 101). Past it Node's parser
 * refuses the request (Node 24: `HPE_HEADER_OVERFLOW`, as for 16 KiB of headers; older
 * Node dropped the extra fields silently, so a proxy forwarded a request its upstream
 * read differently), answered 431 by {@link answerClientError}.
 */
export const MAX_HEADERS_COUNT = 100;

/** The route label of answers given before any route was known (refused by the parser or by {@link checkHeaderFields}). */
export const UNROUTED = 'unmatched';

/**
 * The server's slow-client timeouts, checked: Node refuses a headers timeout longer than
 * the request timeout, so that is a configuration error naming both variables.
 * @throws {ConfigError}
 */
export function serverTimeouts({
  headersTimeoutMs = 10_000,
  requestTimeoutMs = 60_000,
}: Pick<ServiceOptions, 'headersTimeoutMs' | 'requestTimeoutMs'>) {
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError([
      `HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    ]);
  }
  // Node looks for expired requests every `connectionsCheckingInterval` (30 s by
  // default), so a 1 s timeout would really be up to 31 s: check at a quarter of the
  // shorter timeout, at most once a second.
  const shortest = requestTimeoutMs > 0 ? Math.min(headersTimeoutMs, requestTimeoutMs) : headersTimeoutMs;
  const checkIntervalMs = Math.max(25, Math.min(1_000, Math.floor(shortest / 4)));
  return { headersTimeoutMs, requestTimeoutMs, checkIntervalMs };
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Counts an answer the server gave before any route (see {@link UNROUTED}). */
type RecordRefusal = (status: number, method?: string) => void;

const TWO_HOSTS: Problem = {
  status: 400,
  title: 'Bad Request',
  detail: 'more than one Host header field',
};

/**
 * Refuses, and closes, what Node's parser lets through but a proxy must not pass on:
 * more than one `Host` (400, RFC 9112 §3.2: the proxy and its upstream could each
 * believe a different one). Passes the rest on.
 */
export function checkHeaderFields(listener: Listener, record: RecordRefusal = () => {}): Listener {
  return function checkHeaderFields(req, res) {
    const raw = req.rawHeaders;
    let host = 0;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      if (name.length === 4 && name.toLowerCase() === 'host' && ++host > 1) {
        res.shouldKeepAlive = false;
        sendProblem(res, TWO_HOSTS, ['connection', 'close']);
        record(400, req.method);
        return;
      }
    }
    listener(req, res);
  };
}

/** What Node's parser refuses, answered as its own default handler would, as problems. */
const PARSER_REFUSALS: Record<string, Problem> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    title: 'Request Header Fields Too Large',
    detail: `too many header fields (at most ${MAX_HEADERS_COUNT}), or more than 16 KiB of them`,
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    title: 'Content Too Large',
    detail: 'chunk extensions too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request Timeout',
    detail: 'the request was not received within HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS',
  },
};
const MALFORMED: Problem = { status: 400, title: 'Bad Request', detail: 'malformed request' };

/** Preset answers (status line, headers and body), by parser error code. */
const clientErrorAnswers = new Map<string | undefined, { status: number; bytes: Buffer }>();
function clientErrorAnswer(code: string | undefined) {
  let answer = clientErrorAnswers.get(code);
  if (!answer) {
    const problem = (code && PARSER_REFUSALS[code]) || MALFORMED;
    const body = problemJson(problem);
    const head =
      `HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    answer = { status: problem.status, bytes: Buffer.from(head + body) };
    clientErrorAnswers.set(code, answer);
  }
  return answer;
}

/**
 * The `clientError` handler: what Node's default does (answer 400, 408 or 431 unless a
 * response already started), with a problem+json body naming the limit, counted like
 * every other answer, and a lingering close (`lingeringClose`) where Node destroys the
 * socket at once: a client still sending then met a reset instead of the answer (a
 * fresh-clone CI run lost the 408 of a client dripping its headers). A reset or broken
 * pipe gets no answer.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket, record: RecordRefusal): void {
  const code = error.code;
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (code !== 'ECONNRESET' && code !== 'EPIPE' && socket.writable && !current?.headersSent) {
    const answer = clientErrorAnswer(code);
    record(answer.status);
    lingeringClose(socket, answer.bytes);
    return;
  }
  socket.destroy(error);
}

export class PortInUseError extends Error {
  constructor(host: string, port: number) {
    super(
      `port ${port} on ${host} is already in use: stop whatever holds it, or choose another with PORT / --port`,
    );
    this.name = 'PortInUseError';
  }
}

export interface ServiceOptions {
  host: string;
  port: number;
  /** The Hono app: the whole service, or the control plane when `dataPlane` is set. */
  app: Hono;
  /** Handles every request whose path is not a control path (see `isControlPath`). */
  dataPlane?: DataPlane;
  log: Logger;
  /** Where the answers given before any route (400, 408, 431) are counted. */
  metrics?: ServiceMetrics;
  /** How long in-flight requests may take to finish once the listener is closed, before they are cut. */
  shutdownTimeoutMs: number;
  /** Time a client has to send a request's headers (HEADERS_TIMEOUT_MS; default 10 s). */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request (REQUEST_TIMEOUT_MS; default 60 s, 0 = none). */
  requestTimeoutMs?: number;
  /** More header fields than this → 431 (default {@link MAX_HEADERS_COUNT}). */
  maxHeadersCount?: number;
  /**
   * How long SIGTERM/SIGINT announce the drain before the listener closes (0 = close at
   * once, the default here; services read `DRAIN_DELAY_MS`).
   */
  drainDelayMs?: number;
  /** The drain state the app's health route reads (see `drain.ts`); a new one when omitted. */
  drain?: Drain;
  /** Run after the server closed: stop timers, close upstream pools. */
  onShutdown?: () => void | Promise<void>;
  /** Install SIGTERM/SIGINT handlers that stop and exit the process (default true). */
  handleSignals?: boolean;
  /**
   * Listen with SO_REUSEPORT, so several worker threads share the port (`workers.ts`;
   * default false: a second listener on the port is refused).
   */
  reusePort?: boolean;
}

export interface RunningService {
  server: Server;
  /** `http://host:port` with the port actually bound (useful with port 0). */
  url: string;
  /** The shutdown phase (serving, draining, closing). */
  drain: Drain;
  /**
   * Stops gracefully (without exiting the process), announcing the drain for
   * `drainDelayMs` first (default 0: close at once, as tests want; the signals pass the
   * configured delay). Later calls return the first call's promise.
   */
  stop(drainDelayMs?: number): Promise<void>;
}

/**
 * Starts the HTTP server.
 * @throws {PortInUseError} when the port is taken.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const {
    host,
    port,
    app,
    dataPlane,
    log,
    shutdownTimeoutMs,
    drainDelayMs = 0,
    drain = new Drain(),
    onShutdown,
    handleSignals = true,
  } = options;
  // Node's server itself reads away a body nobody read; one read in part (a body limit)
  // is discarded by whoever refused it (`discard.ts`). @hono/node-server's own cleanup
  // would close the connection after 500 ms instead, under a client still uploading.
  const control = getRequestListener(app.fetch, { autoCleanupIncoming: false });
  // The drain check is one boolean read per request; the announcement itself (a header
  // set the slow way) only costs anything while draining.
  const listener = dataPlane
    ? (req: IncomingMessage, res: ServerResponse) => {
        if (drain.draining) announceDrain(res);
        if (isControlPath(req.url ?? '/')) void control(req, res);
        else dataPlane(req, res);
      }
    : (req: IncomingMessage, res: ServerResponse) => {
        if (drain.draining) announceDrain(res);
        void control(req, res);
      };

  // Keep idle client connections longer than the proxies' pools keep theirs, so a
  // pooled socket is never closed by this side while a request is being written to it.
  // The headers and request timeouts count from a request's first byte, so they never
  // cut an idle keep-alive connection either; they bound how long a client may take to
  // send one request (see HEADERS_TIMEOUT_MS and REQUEST_TIMEOUT_MS in config.ts).
  const timeouts = serverTimeouts(options);
  const metrics = options.metrics;
  const recordRefusal: RecordRefusal = (status, method) =>
    metrics?.recordRequest(UNROUTED, methodLabel(method), status, 0);
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    },
    checkHeaderFields(listener, recordRefusal),
  );
  server.maxHeadersCount = options.maxHeadersCount ?? MAX_HEADERS_COUNT;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(error, socket, recordRefusal),
  );
  // Open client connections, so the drain can reach responses already in progress.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port) : error);
    server.once('error', onError);
    // `reusePort` is Node ≥ 22.12; @types/node 20 does not know it yet.
    server.listen({ host, port, reusePort: options.reusePort } as ListenOptions, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  log.info('listening', { url, pid: process.pid });

  let stopping: Promise<void> | undefined;
  const stop = (delayMs = 0) => {
    stopping ??= (async () => {
      log.info('draining', { delay_ms: delayMs, deadline_ms: shutdownTimeoutMs });
      const announced = drain.announce(delayMs);
      // Responses being worked on now close their connection too, and idle keep-alive
      // sockets are closed while the listener still accepts, so their clients reconnect
      // (and read the announcement) instead of meeting a refused connection later.
      for (const socket of sockets) {
        const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
        if (current && !current.headersSent) announceDrain(current);
      }
      server.closeIdleConnections();
      const fullDelay = await announced;
      drain.close();
      log.info('shutting_down', {
        deadline_ms: shutdownTimeoutMs,
        drain: fullDelay ? 'complete' : 'cut short',
      });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() only reaps sockets idle right now; keep reaping as in-flight ones finish.
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = setTimeout(() => {
        log.warn('shutdown_deadline', { message: 'closing connections with requests still in flight' });
        server.closeAllConnections();
      }, shutdownTimeoutMs);
      await closed;
      clearInterval(reaper);
      clearTimeout(deadline);
      await onShutdown?.();
      log.info('stopped');
    })();
    return stopping;
  };

  if (handleSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info('signal', { signal });
      if (stopping) {
        drain.skip(); // a second signal: stop announcing, close now (in-flight still finish)
        return;
      }
      stop(drainDelayMs).then(
        () => process.exit(0),
        (error) => {
          log.error('shutdown_failed', { error });
          process.exit(1);
        },
      );
    };
    // `on`, not `once`: an unhandled second signal would kill the process mid-drain.
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  return { server, url, drain, stop };
}

/**
 * Marks a response as sent while draining: `X-Draining: 1`, and `Connection: close` (the
 * socket closes after it, so the client's next request opens a new connection).
 */
function announceDrain(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  res.setHeader(DRAIN_HEADER, '1');
}
