/**
 * @module
 * The console's own traffic: the good user and the bad actor of `loadtests/scenarios.json`
 * (scenario `console`: who, at what default rate, for at most how long), each started and
 * stopped on its own from the page, run by the lab's one traffic engine against the edge.
 * The good user's latency is measured here, from its own answers.
 */

import { parseDuration } from '../shared/duration.js';
import type { Logger } from '../shared/logger.js';
import { runTraffic } from '../traffic/engine.js';
import { type Actor, loadScenarios, patternOf, requestFor, type ScenarioFile } from '../traffic/scenarios.js';
import { WindowRecorder } from '../traffic/stats.js';

/** The scenario of `loadtests/scenarios.json` the console runs. */
export const CONSOLE_SCENARIO = 'console';
/** The actor whose latency the page charts. */
export const GOOD_USER = 'good_user';
/** The good user's p50/p95 are over this much recent history. */
export const LATENCY_WINDOW_MS = 5_000;
/** Highest rate the page may ask for, per actor (requests/s). */
export const MAX_RATE = 1_000;
/**
 * Latency samples kept per actor per second: twice the highest rate, so the percentiles are
 * exact unless answers bunch up (a stalled loop catching up); then a uniform sample.
 */
export const SAMPLES_PER_SECOND = 2 * MAX_RATE;

export interface ActorStatus {
  name: string;
  running: boolean;
  /** The rate it runs at, or would start at. */
  rate: number;
  ok: number;
  limited: number;
  errors: number;
}

export interface TrafficStatus {
  actors: ActorStatus[];
  goodLatency: { p50: number; p95: number; samples: number };
}

interface Run {
  rate: number;
  stop: AbortController;
  done: Promise<unknown>;
}

export class ConsoleTraffic {
  readonly #target: string;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #durationMs: number;
  readonly #actors = new Map<string, { spec: Actor; rate: number }>();
  readonly #runs = new Map<string, Run>();
  // The console runs for days: its recorder keeps the window's latencies, not the whole run's.
  readonly #recorder = new WindowRecorder({
    windowMs: LATENCY_WINDOW_MS,
    samplesPerSecond: SAMPLES_PER_SECOND,
  });

  /**
   * @param options.target the edge (LIMITER_URL)
   * @param [options.scenarios] the scenario file [loadtests/scenarios.json]
   * @param [options.now] monotonic ms, the snapshots' clock [performance.now]
   */
  constructor({
    target,
    log,
    scenarios = loadScenarios(),
    now = () => performance.now(),
  }: { target: string; log: Logger; scenarios?: ScenarioFile; now?: () => number }) {
    const scenario = scenarios.scenarios[CONSOLE_SCENARIO];
    if (!scenario) throw new Error(`loadtests/scenarios.json has no "${CONSOLE_SCENARIO}" scenario`);
    this.#target = target;
    this.#log = log;
    this.#now = now;
    this.#durationMs = parseDuration(scenario.duration, 1000);
    for (const [name, entry] of Object.entries(scenario.traffic)) {
      const pattern = patternOf(entry);
      this.#actors.set(name, {
        spec: scenarios.actors[name] as Actor,
        rate: pattern.kind === 'rate' ? pattern.rate : 1,
      });
      this.#recorder.declare(name);
    }
  }

  /** The actors the page may start, in the scenario's order. */
  get names(): string[] {
    return [...this.#actors.keys()];
  }

  running(name: string): boolean {
    return this.#runs.has(name);
  }

  /** Starts `name` at `rate` requests/s (restarts it at the new rate when it runs). */
  async start(name: string, rate: number): Promise<void> {
    const actor = this.#actors.get(name);
    if (!actor) throw new Error(`no actor named ${name}`);
    await this.stop(name);
    actor.rate = rate;
    const stop = new AbortController();
    const done = runTraffic({
      target: this.#target,
      durationMs: this.#durationMs,
      signal: stop.signal,
      graceMs: 1_000,
      actors: [{ name, pattern: { kind: 'rate', rate }, request: (n) => requestFor(actor.spec, n) }],
      // Each run has its own clock; the recorder keeps the console's, so runs interleave in order.
      onOutcome: (outcome) => this.#recorder.record({ ...outcome, at: this.#now() }),
      onDrop: (a) => this.#recorder.drop(a),
    })
      .catch((error) => this.#log.error('traffic_failed', { actor: name, error }))
      .finally(() => {
        if (this.#runs.get(name)?.stop === stop) this.#runs.delete(name);
      });
    this.#runs.set(name, { rate, stop, done });
    this.#log.info('traffic_started', { actor: name, rate });
  }

  /** Stops `name` (in-flight requests get a second to finish); nothing when it is not running. */
  async stop(name: string): Promise<void> {
    const run = this.#runs.get(name);
    if (!run) return;
    this.#runs.delete(name);
    run.stop.abort();
    await run.done;
    this.#log.info('traffic_stopped', { actor: name });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.names.map((name) => this.stop(name)));
  }

  status(): TrafficStatus {
    const actors = this.names.map((name) => {
      const counts = this.#recorder.counts(name);
      return {
        name,
        running: this.#runs.has(name),
        rate: (this.#actors.get(name) as { rate: number }).rate,
        ok: counts.ok,
        limited: counts.limited,
        errors: counts.errors,
      };
    });
    const latency = this.#recorder.latency(GOOD_USER, this.#now());
    const round = (ms: number) => Math.round(ms * 10) / 10;
    return {
      actors,
      goodLatency: { p50: round(latency.p50), p95: round(latency.p95), samples: latency.samples },
    };
  }
}
