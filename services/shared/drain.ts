/**
 * @module
 * The drain announcement: what a service says between SIGTERM and closing its listener.
 *
 * Real systems leave a gap between "I am going away" and "I stopped listening", so the
 * balancer in front can stop sending new work before connections start being refused:
 * Kubernetes runs a `preStop` sleep while the endpoint is removed, HAProxy's agent check
 * answers `drain`, and Envoy's health-check filter answers 503 and adds
 * `x-envoy-immediate-health-check-fail` to responses. The lab does the same in three
 * phases:
 *
 * - `serving`: normal.
 * - `draining` (for `DRAIN_DELAY_MS` after SIGTERM): still serving every request, but the
 *   health route (`/health` on the node, `/healthz` on the proxies) answers
 *   `503 {"status":"draining"}`, and every response carries `X-Draining: 1` and
 *   `Connection: close`. A balancer that sees the header takes the upstream out of
 *   rotation at once, without waiting for its next active check.
 * - `closing`: the listener is closed; in-flight requests finish (up to
 *   `SHUTDOWN_TIMEOUT_MS`), then the process exits 0.
 *
 * A second SIGTERM/SIGINT during `draining` ends the delay early (a terminal's Ctrl-C
 * reaches the local lab's services twice; nothing needs announcing when every service
 * stops at once); in-flight requests still get their full deadline.
 */

/** The response header announcing that the sender is draining (lower case, as compared). */
export const DRAIN_HEADER = 'x-draining';

/** The health routes' answer while draining (with status 503). */
export const DRAINING_BODY = { status: 'draining' } as const;

export type DrainPhase = 'serving' | 'draining' | 'closing';

/** The timer functions `Drain` uses; tests pass fake ones. */
export interface DrainTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: DrainTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * A service's shutdown phase. One per process: the server sets it, the health routes and
 * the request listener read it.
 *
 * @param [timers] - real timers by default
 * @example
 * const drain = new Drain();
 * createServiceApp({ ..., drain });                 // /healthz answers 503 while draining
 * startService({ ..., drain, drainDelayMs: 3000 }); // SIGTERM: drain 3 s, then close
 */
export class Drain {
  #phase: DrainPhase = 'serving';
  #waiting: { handle: unknown; resolve: () => void } | undefined = undefined;

  constructor(readonly timers: DrainTimers = realTimers) {}

  get phase(): DrainPhase {
    return this.#phase;
  }

  /** True from the start of the drain on: health answers 503, responses announce it. */
  get draining(): boolean {
    return this.#phase !== 'serving';
  }

  /**
   * Enters `draining` and resolves after `delayMs` (at once for 0), or earlier when
   * `skip()` is called. Calling it again while a delay runs ends that delay instead.
   * @returns whether the full delay elapsed (false when skipped or already past it)
   */
  announce(delayMs: number): Promise<boolean> {
    if (this.#phase !== 'serving') {
      this.skip();
      return Promise.resolve(false);
    }
    this.#phase = 'draining';
    if (delayMs <= 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const handle = this.timers.setTimeout(() => {
        this.#waiting = undefined;
        resolve(true);
      }, delayMs);
      this.#waiting = { handle, resolve: () => resolve(false) };
    });
  }

  /** Ends a running drain delay now (a second signal). */
  skip(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    this.#waiting = undefined;
    this.timers.clearTimeout(waiting.handle);
    waiting.resolve();
  }

  /** Enters `closing` (the listener is being closed). */
  close(): void {
    this.skip();
    this.#phase = 'closing';
  }
}
