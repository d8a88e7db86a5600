/**
 * @module
 * `WORKERS=N`: one service served by N event loops on one port.
 *
 * One Node event loop is what a flood crowds out (10k req/s through one thread leaves
 * nothing for anyone else), so the limiter and the balancer can run N worker threads,
 * each the whole service (`run()` of its main module), each listening on the same
 * host:port with `reusePort` (SO_REUSEPORT, Node ≥ 22.12): the kernel spreads new
 * connections over them, and there is no accept-and-hand-over thread in the way.
 *
 * The primary thread serves nothing. It:
 * - checks the configuration once before any worker starts (the caller's `run()` loads
 *   it; here the port, the server timeouts and `reusePort` support), and claims the port
 *   with a plain (not shared) listen, so a port held by anyone, even another process
 *   listening with `reusePort`, is refused as today (`PortInUseError`, exit 1) instead of
 *   being silently shared; port 0 becomes one real port for every worker;
 * - starts the workers and resolves once every one listens, or throws the first
 *   failure (ConfigError → exit 2, PortInUseError → exit 1, as a single process would);
 * - forwards SIGTERM/SIGINT: every worker drains as a single process does (`server.ts`:
 *   `DRAIN_DELAY_MS` announcing, then close and finish in-flight work), a second signal
 *   cuts the delay short, and the process exits 0 once every worker has stopped;
 * - restarts nothing: a worker that crashes or exits on its own is logged
 *   (`worker_failed`), the others are stopped the same graceful way, and the process
 *   exits 1, so a supervisor (Docker's restart policy, systemd, the lab runner) restarts
 *   the whole service and nobody runs a silently thinner one;
 * - routes the control plane between workers (`worker-link.ts`): numbers config updates
 *   and sends each to every worker, and relays gathers (metrics, balancer state).
 *
 * `WORKERS=1` (or any run inside a worker) never comes here: one thread, as before.
 */
import { createServer } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ConfigError, supportsReusePort } from './config.js';
import type { Logger } from './logger.js';
import { YOUNG_GENERATION_MB } from './runtime.js';
import { PortInUseError, type ServiceOptions, serverTimeouts } from './server.js';
import { WorkerLink } from './worker-link.js';

/** Longest a gather (metrics, balancer state) waits for every worker to answer. */
export const GATHER_TIMEOUT_MS = 5_000;

/** Messages from the primary to a worker. */
export type ToWorker =
  | { type: 'update'; seq: number; id: number; origin: number; at: number; patch: unknown }
  | { type: 'committed'; id: number }
  | { type: 'ask'; id: number; topic: string }
  | { type: 'gathered'; id: number; values: unknown[]; error?: undefined }
  | { type: 'gathered'; id: number; error: string }
  | { type: 'stop'; drainDelayMs: number }
  | { type: 'skip' };

/** Why a worker could not start, as the primary re-throws it. */
export type StartFailure =
  | { kind: 'port' }
  | { kind: 'config'; problems: string[] }
  | { kind: 'error'; message: string };

/** Messages from a worker to the primary. */
export type FromWorker =
  | { type: 'listening' }
  | { type: 'failed'; failure: StartFailure }
  | { type: 'update'; id: number; patch: unknown }
  | { type: 'applied'; seq: number; ok: boolean }
  | { type: 'gather'; id: number; topic: string }
  | { type: 'answer'; id: number; value: unknown; error?: undefined }
  | { type: 'answer'; id: number; error: string };

/** What a worker thread is started with (structured-cloned). */
interface WorkerStart {
  /** Marks a thread started by `startWorkers` (other worker threads are not ours). */
  labWorker: true;
  /** The service's main module; the thread calls its `run(argv)`. */
  entry: string;
  argv: readonly string[];
  worker: number;
  count: number;
  /** The port the primary claimed. */
  port: number;
  shared: unknown;
}

/** What the service's `run()` sees inside one of our worker threads. */
export interface WorkerThread<Shared = unknown> {
  /** The control plane's link to the other workers. */
  group: WorkerLink;
  /** What the primary handed every worker (the limiter's shared store table). */
  shared: Shared;
  /** Spread into `startService`'s options: the claimed port, shared, signals left to the primary. */
  listen: Pick<ServiceOptions, 'port' | 'reusePort' | 'handleSignals'>;
  /** Spread into every log line: `{ worker: n }`. */
  logFields: { worker: number };
  /** The service's main module, as `startWorkers` was given it. */
  entry: string;
  argv: readonly string[];
}

let thread: WorkerThread | undefined;

/** This thread's worker context, or undefined in the main thread (or any thread not ours). */
export function workerThread<Shared = unknown>(): WorkerThread<Shared> | undefined {
  if (isMainThread || !parentPort || (workerData as WorkerStart | null)?.labWorker !== true) return undefined;
  if (!thread) {
    const start = workerData as WorkerStart;
    thread = {
      group: new WorkerLink(start.worker, start.count, parentPort),
      shared: start.shared,
      listen: { port: start.port, reusePort: true, handleSignals: false },
      logFields: { worker: start.worker },
      entry: start.entry,
      argv: start.argv,
    };
  }
  return thread as WorkerThread<Shared>;
}

export interface WorkersOptions
  extends Pick<ServiceOptions, 'host' | 'port' | 'headersTimeoutMs' | 'requestTimeoutMs'> {
  /** How many workers (WORKERS, > 1). */
  workers: number;
  /** The service's main module (its `import.meta.url`): each worker calls its `run(argv)`. */
  entry: string;
  argv: readonly string[];
  /** The environment each worker's `process.env` starts from. */
  env: NodeJS.ProcessEnv;
  drainDelayMs: number;
  log: Logger;
  /** Structured-cloneable data for every worker (e.g. the limiter's shared store table). */
  shared?: unknown;
}

export interface RunningWorkers {
  /** `http://host:port` with the claimed port. */
  url: string;
  /** Settles with the process's exit code once every worker has ended. */
  ended: Promise<number>;
}

/**
 * Claims the port, starts `workers` threads running `entry`'s `run()` on it, and
 * resolves once every one listens. Installs the SIGTERM/SIGINT handlers and exits the
 * process when the workers have ended (0 after a signal, 1 after a crash).
 * @throws {ConfigError} on a bad setting (the workers' too), before or instead of serving
 * @throws {PortInUseError} when the port is taken
 */
export async function startWorkers(options: WorkersOptions): Promise<RunningWorkers> {
  const { workers: count, host, log } = options;
  if (!supportsReusePort()) {
    throw new ConfigError([
      `WORKERS (--workers): ${count} workers need Node.js 22.12 or later (listen with reusePort); this is ${process.version}; set WORKERS=1`,
    ]);
  }
  serverTimeouts(options);
  const port = await claimPort(host, options.port);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const primary = new Primary(options, port);
  // Before the workers start: a SIGTERM that arrives while a worker thread is still
  // starting up otherwise met the default action (killed) about 1 time in 5 (Node 24).
  primary.handleSignals();
  await primary.started();
  log.info('workers_listening', { url, workers: count, pid: process.pid });
  primary.ended.then((code) => process.exit(code));
  return { url, ended: primary.ended };
}

/** Binds `host:port` exclusively for a moment: refused if anyone holds it; port 0 → a free one. */
async function claimPort(host: string, port: number): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port) : error),
    );
    probe.listen({ host, port, exclusive: true }, resolve);
  });
  const claimed = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return claimed;
}

/** The primary thread's state: the workers, the update sequence, the gathers in progress. */
class Primary {
  readonly #options: WorkersOptions;
  /** Live workers by number (1..count); a worker leaves when it exits. */
  readonly #workers = new Map<number, Worker>();
  #seq = 0;
  /** Updates not yet applied everywhere: who still has to apply, who asked, and the outcomes. */
  readonly #updates = new Map<
    number,
    { origin: number; id: number; waiting: Set<number>; failed: number[] }
  >();
  #nextGather = 0;
  readonly #gathers = new Map<
    number,
    { origin: number; id: number; answers: Map<number, unknown>; timer: NodeJS.Timeout }
  >();
  #stopping = false;
  /** Every worker listens; a signal before that waits for it. */
  #listening = false;
  #signalled = false;
  /** A worker failed to start: the others are being ended, not stopped. */
  #aborted = false;
  #crashed = false;
  readonly #startup: Promise<void>;
  readonly ended: Promise<number>;

  constructor(options: WorkersOptions, port: number) {
    this.#options = options;
    const claimed = { host: options.host, port };
    const starts: Promise<void>[] = [];
    const exits: Promise<void>[] = [];
    for (let worker = 1; worker <= options.workers; worker++) {
      const start: WorkerStart = {
        labWorker: true,
        entry: options.entry,
        argv: options.argv,
        worker,
        count: options.workers,
        port,
        shared: options.shared,
      };
      const thread = new Worker(new URL('./worker-entry.js', import.meta.url), {
        workerData: start,
        env: options.env,
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      });
      this.#workers.set(worker, thread);
      let listening = false;
      let failure: Error | undefined;
      starts.push(
        new Promise<void>((resolve, reject) => {
          thread.on('message', (message: FromWorker) => {
            if (message.type === 'listening') {
              listening = true;
              resolve();
            } else if (message.type === 'failed') reject(startError(message.failure, claimed));
            else this.#route(worker, message);
          });
          thread.once('error', (error) => {
            failure = error;
            if (!listening) reject(error);
          });
          thread.once('exit', (code) => {
            if (!listening) reject(new Error(`worker ${worker} exited (code ${code}) before it listened`));
          });
        }),
      );
      exits.push(
        new Promise<void>((resolve) =>
          thread.once('exit', (code) => {
            this.#workers.delete(worker);
            if (listening && !this.#aborted && (code !== 0 || !this.#stopping))
              this.#crash(worker, { code, error: failure });
            this.#forget(worker);
            resolve();
          }),
        ),
      );
    }
    this.#startup = Promise.all(starts).then(() => undefined);
    // A failed start rejects `started()`; the others are stopped there, so no rejection is left unhandled.
    this.#startup.catch(() => {});
    this.ended = Promise.all(exits).then(() => (this.#crashed ? 1 : 0));
  }

  /** Resolves once every worker listens; else ends them all and throws the first failure. */
  async started(): Promise<void> {
    try {
      await this.#startup;
      this.#listening = true;
      if (this.#signalled) this.#stop();
    } catch (error) {
      this.#aborted = true;
      await Promise.all([...this.#workers.values()].map((thread) => thread.terminate()));
      throw error;
    }
  }

  handleSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.#options.log.info('signal', { signal, workers: this.#workers.size });
      if (!this.#listening) this.#signalled = true;
      else if (this.#stopping) this.#broadcast({ type: 'skip' });
      else this.#stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  #stop(): void {
    this.#stopping = true;
    this.#broadcast({ type: 'stop', drainDelayMs: this.#options.drainDelayMs });
  }

  /** A worker died while serving: logged, the others stopped gracefully, exit code 1. */
  #crash(worker: number, detail: { code: number; error: Error | undefined }): void {
    this.#options.log.error('worker_failed', {
      failed_worker: worker,
      ...detail,
      action: 'stopping the other workers; the process exits 1 (nothing is restarted)',
    });
    this.#crashed = true;
    if (!this.#stopping) this.#stop();
  }

  #broadcast(message: ToWorker): void {
    for (const thread of this.#workers.values()) thread.postMessage(message);
  }

  #send(worker: number, message: ToWorker): void {
    this.#workers.get(worker)?.postMessage(message);
  }

  #route(from: number, message: FromWorker): void {
    switch (message.type) {
      case 'update': {
        const seq = ++this.#seq;
        this.#updates.set(seq, {
          origin: from,
          id: message.id,
          waiting: new Set(this.#workers.keys()),
          failed: [],
        });
        this.#broadcast({
          type: 'update',
          seq,
          id: message.id,
          origin: from,
          at: Date.now(),
          patch: message.patch,
        });
        return;
      }
      case 'applied': {
        const update = this.#updates.get(message.seq);
        if (!update) return;
        update.waiting.delete(from);
        if (!message.ok) update.failed.push(from);
        this.#settleUpdate(message.seq);
        return;
      }
      case 'gather': {
        const gid = ++this.#nextGather;
        const timer = setTimeout(() => this.#timeOut(gid), GATHER_TIMEOUT_MS);
        this.#gathers.set(gid, { origin: from, id: message.id, answers: new Map(), timer });
        this.#broadcast({ type: 'ask', id: gid, topic: message.topic });
        return;
      }
      case 'answer': {
        const gather = this.#gathers.get(message.id);
        if (!gather) return;
        if (message.error !== undefined) {
          this.#finishGather(message.id, `worker ${from}: ${message.error}`);
          return;
        }
        gather.answers.set(from, message.value);
        this.#settleGather(message.id);
        return;
      }
    }
  }

  /** Once every live worker applied update `seq`, its sender may answer. */
  #settleUpdate(seq: number): void {
    const update = this.#updates.get(seq);
    if (!update || update.waiting.size > 0) return;
    this.#updates.delete(seq);
    const all = this.#options.workers;
    if (update.failed.length > 0 && update.failed.length < all) {
      // Every worker starts from the same state and applies the same updates in the same
      // order, so they should agree; say so loudly if they did not.
      this.#options.log.error('config_diverged', { seq, refused_by_workers: update.failed });
    }
    this.#send(update.origin, { type: 'committed', id: update.id });
  }

  #settleGather(gid: number): void {
    const gather = this.#gathers.get(gid);
    if (!gather || [...this.#workers.keys()].some((worker) => !gather.answers.has(worker))) return;
    this.#finishGather(gid);
  }

  #timeOut(gid: number): void {
    const gather = this.#gathers.get(gid);
    if (!gather) return;
    const silent = [...this.#workers.keys()].filter((worker) => !gather.answers.has(worker));
    this.#finishGather(gid, `worker ${silent.join(', ')} did not answer within ${GATHER_TIMEOUT_MS} ms`);
  }

  #finishGather(gid: number, error?: string): void {
    const gather = this.#gathers.get(gid);
    if (!gather) return;
    this.#gathers.delete(gid);
    clearTimeout(gather.timer);
    const values = [...gather.answers.entries()].sort(([a], [b]) => a - b).map(([, value]) => value);
    this.#send(
      gather.origin,
      error === undefined
        ? { type: 'gathered', id: gather.id, values }
        : { type: 'gathered', id: gather.id, error },
    );
  }

  /** A worker that ended no longer holds up updates and gathers. */
  #forget(worker: number): void {
    for (const [seq, update] of this.#updates) {
      update.waiting.delete(worker);
      this.#settleUpdate(seq);
    }
    for (const gid of [...this.#gathers.keys()]) this.#settleGather(gid);
  }
}

/** A worker's start failure as the error a single process would have thrown. */
function startError(failure: StartFailure, { host, port }: { host: string; port: number }): Error {
  switch (failure.kind) {
    case 'port':
      return new PortInUseError(host, port);
    case 'config':
      return new ConfigError(failure.problems);
    case 'error':
      return new Error(failure.message);
  }
}
