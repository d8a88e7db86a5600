/**
 * @module
 * A mutex in one Int32 word of a `SharedArrayBuffer`, for the shared table's critical
 * sections (a few hundred nanoseconds) taken by several worker threads.
 *
 * Drepper's futex mutex ("Futexes Are Tricky", mutex 3): the word is 0 (free), 1 (held)
 * or 2 (held, someone may sleep on it). Uncontended it costs one `compareExchange` to take
 * and one `Atomics.sub` to release. A contended taker spins briefly (the holder is
 * usually done within the spin), then sleeps in `Atomics.wait` until the holder's
 * `Atomics.notify`, so a holder preempted by the OS (more threads than cores) does not
 * make the others burn their time slice. Both operations are sequentially consistent
 * atomics, so everything written under the lock is visible to the next holder.
 */

/** Attempts before a contended taker goes to sleep. */
const SPINS = 64;

/** Takes the lock at `words[index]`, waiting as long as it takes. */
export function lock(words: Int32Array, index: number): void {
  let seen = Atomics.compareExchange(words, index, 0, 1);
  if (seen === 0) return;
  for (let i = 0; i < SPINS; i++) {
    if (Atomics.load(words, index) === 0) {
      seen = Atomics.compareExchange(words, index, 0, 1);
      if (seen === 0) return;
    }
  }
  if (seen !== 2) seen = Atomics.exchange(words, index, 2);
  while (seen !== 0) {
    Atomics.wait(words, index, 2);
    seen = Atomics.exchange(words, index, 2);
  }
}

/** Releases the lock at `words[index]` (taken by {@link lock}), waking one sleeper if any. */
export function unlock(words: Int32Array, index: number): void {
  if (Atomics.sub(words, index, 1) !== 1) {
    Atomics.store(words, index, 0);
    Atomics.notify(words, index, 1);
  }
}
