/**
 * @module
 * A worker thread's side of the channel to its primary (see `workers.ts`): what makes N
 * event loops one service on the control plane.
 *
 * - **Config updates** go through the primary, which numbers them and sends each to every
 *   worker; each worker applies them one at a time in that order, so every worker ends in
 *   the same state whatever worker a `PUT /admin/config` landed on. The receiving
 *   worker's answer waits until every worker applied it, so after a 200 any connection
 *   sees the new config.
 * - **Gathers** ask every worker the same question (its metrics, the balancer's upstream
 *   state) and return the answers in worker order, for the asking worker to combine.
 *
 * Nothing here runs per data-plane request: only admin and metrics routes use it.
 */
import type { MessagePort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './workers.js';

/** What the control plane needs from the other workers of the same service. */
export interface WorkerGroup {
  /** This thread's number, 1 to `count`: the `worker` field of its logs. */
  readonly worker: number;
  /** How many workers serve the port. */
  readonly count: number;
  /** How this worker answers `topic` when any worker gathers it. */
  answer(topic: string, reply: () => unknown): void;
  /**
   * Every worker's answer to `topic` (this one's too), in worker order.
   * @throws {Error} when a worker did not answer within the primary's gather timeout.
   */
  gather<T>(topic: string): Promise<T[]>;
  /**
   * Makes `applyHere` how this worker applies config updates (its own and the others'),
   * and returns the function that applies one on every worker, in the primary's order.
   * That function settles with this worker's own result (its value, or what it threw)
   * once every worker has applied the update.
   */
  configUpdates<Patch, Result>(
    applyHere: (patch: Patch, at: number) => Promise<Result>,
  ): (patch: Patch) => Promise<Result>;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class WorkerLink implements WorkerGroup {
  readonly #port: MessagePort;
  #nextId = 0;
  readonly #answers = new Map<string, () => unknown>();
  readonly #gathers = new Map<number, { resolve(values: unknown[]): void; reject(error: Error): void }>();
  /** Updates sent from here, by id: their promise, and this worker's outcome once applied. */
  readonly #updates = new Map<number, { settle(outcome: Outcome): void; outcome?: Outcome }>();
  #applyHere: ((patch: unknown, at: number) => Promise<unknown>) | undefined;
  /** The chain that applies updates one at a time, in arrival order. */
  #applying: Promise<void> = Promise.resolve();
  /** Called by `stop` and `skip` messages (set by `worker-entry.ts` once the service runs). */
  onStop: ((drainDelayMs: number) => void) | undefined;
  onSkip: (() => void) | undefined;

  constructor(
    readonly worker: number,
    readonly count: number,
    port: MessagePort,
  ) {
    this.#port = port;
    port.on('message', (message: ToWorker) => this.#receive(message));
  }

  /** Tells the primary something (`listening`, `failed`). */
  post(message: FromWorker): void {
    this.#port.postMessage(message);
  }

  answer(topic: string, reply: () => unknown): void {
    this.#answers.set(topic, reply);
  }

  gather<T>(topic: string): Promise<T[]> {
    const id = ++this.#nextId;
    return new Promise<T[]>((resolve, reject) => {
      this.#gathers.set(id, { resolve: resolve as (values: unknown[]) => void, reject });
      this.post({ type: 'gather', id, topic });
    });
  }

  configUpdates<Patch, Result>(
    applyHere: (patch: Patch, at: number) => Promise<Result>,
  ): (patch: Patch) => Promise<Result> {
    this.#applyHere = applyHere as (patch: unknown, at: number) => Promise<unknown>;
    return (patch) => {
      const id = ++this.#nextId;
      return new Promise<Result>((resolve, reject) => {
        this.#updates.set(id, {
          settle: (outcome) => (outcome.ok ? resolve(outcome.value as Result) : reject(outcome.error)),
        });
        this.post({ type: 'update', id, patch });
      });
    };
  }

  #receive(message: ToWorker): void {
    switch (message.type) {
      case 'update':
        this.#apply(message);
        return;
      case 'committed': {
        const update = this.#updates.get(message.id);
        this.#updates.delete(message.id);
        update?.settle(update.outcome ?? { ok: false, error: new Error('the update was not applied here') });
        return;
      }
      case 'ask':
        this.#reply(message.id, message.topic);
        return;
      case 'gathered': {
        const gather = this.#gathers.get(message.id);
        this.#gathers.delete(message.id);
        if (message.error !== undefined) gather?.reject(new Error(message.error));
        else gather?.resolve(message.values);
        return;
      }
      case 'stop':
        this.onStop?.(message.drainDelayMs);
        return;
      case 'skip':
        this.onSkip?.();
        return;
    }
  }

  /** Applies a numbered update after the ones before it; tells the primary when done. */
  #apply({ seq, patch, at, origin, id }: Extract<ToWorker, { type: 'update' }>): void {
    this.#applying = this.#applying.then(async () => {
      let outcome: Outcome;
      try {
        if (!this.#applyHere) throw new Error('this worker takes no config updates');
        outcome = { ok: true, value: await this.#applyHere(patch, at) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      if (origin === this.worker) {
        const update = this.#updates.get(id);
        if (update) update.outcome = outcome;
      }
      this.post({ type: 'applied', seq, ok: outcome.ok });
    });
  }

  #reply(id: number, topic: string): void {
    const reply = this.#answers.get(topic);
    Promise.resolve()
      .then(() => {
        if (!reply) throw new Error(`worker ${this.worker} does not answer "${topic}"`);
        return reply();
      })
      .then(
        (value) => this.post({ type: 'answer', id, value }),
        (error: Error) => this.post({ type: 'answer', id, error: error.message }),
      );
  }
}

/**
 * A question every worker answers with `local()`, combined into one answer: `local()`
 * itself without a group (one thread), else `combine` of every worker's.
 * @example
 * const state = gathered(group, 'balancer-state', () => localState(), combineStates);
 * admin.get('/state', async (c) => c.json(await state()));
 */
export function gathered<T, Combined = T>(
  group: WorkerGroup | undefined,
  topic: string,
  local: () => T | Promise<T>,
  combine: (answers: T[]) => Combined,
): () => Promise<T | Combined> {
  if (!group) return async () => local();
  group.answer(topic, local);
  return async () => combine(await group.gather<T>(topic));
}
