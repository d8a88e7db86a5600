/**
 * @module
 * One poller for every open page: while at least one page listens, the services are read
 * every `intervalMs` (the next round starts when the last one ended, so a slow service
 * never piles reads up) and the snapshot goes to every listener. The last listener gone,
 * the poller stops: an idle console reads nothing.
 */
import { buildSnapshot, type Reads, type Snapshot, type Totals } from './snapshot.js';

export type Listener = (snapshot: Snapshot) => void;

export class SnapshotHub {
  readonly #read: () => Promise<Reads>;
  readonly #intervalMs: number;
  readonly #listeners = new Set<Listener>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #totals: Totals | undefined;
  #latest: Snapshot | undefined;

  readonly #onError: (error: unknown) => void;

  /** @param [options.onError] a round that failed (logged by the console; the next round still runs) */
  constructor({
    read,
    intervalMs,
    onError = () => {},
  }: { read: () => Promise<Reads>; intervalMs: number; onError?: (error: unknown) => void }) {
    this.#read = read;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  /** Listeners right now (open event streams). */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Whether a poll is scheduled or running. */
  get active(): boolean {
    return this.#timer !== undefined || this.#polling;
  }

  /** The last snapshot built, if any. */
  get latest(): Snapshot | undefined {
    return this.#latest;
  }

  /**
   * Adds a listener; it gets the latest snapshot at once (when there is one), then every new one.
   * @returns the function that removes it
   */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    if (this.#latest) listener(this.#latest);
    if (!this.active) void this.#poll();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  /** Reads once now and sends the snapshot (after a control changed something). */
  async refresh(): Promise<Snapshot> {
    const { snapshot, totals } = buildSnapshot(await this.#read(), this.#totals);
    this.#totals = totals;
    this.#latest = snapshot;
    for (const listener of this.#listeners) listener(snapshot);
    return snapshot;
  }

  async #poll(): Promise<void> {
    this.#timer = undefined;
    this.#polling = true;
    try {
      await this.refresh();
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#polling = false;
      if (this.#listeners.size > 0 && !this.#timer) {
        this.#timer = setTimeout(() => void this.#poll(), this.#intervalMs);
      }
    }
  }
}
