import { describe, expect, it } from 'vitest';
import { Drain, type DrainTimers } from './drain.js';

/** Timers that fire only when the test says so. */
function fakeTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 1;
  const timers: DrainTimers = {
    setTimeout(callback, ms) {
      pending.set(next, { callback, ms });
      return next++;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  const fireAll = () => {
    for (const [id, timer] of [...pending]) {
      pending.delete(id);
      timer.callback();
    }
  };
  return { timers, pending, fireAll };
}

describe('Drain', () => {
  it('serves, drains for the delay, then closes', async () => {
    const { timers, pending, fireAll } = fakeTimers();
    const drain = new Drain(timers);
    expect(drain.phase).toBe('serving');
    expect(drain.draining).toBe(false);

    let done: boolean | undefined;
    const announced = drain.announce(3000).then((full) => {
      done = full;
    });
    expect(drain.phase).toBe('draining');
    expect(drain.draining).toBe(true);
    expect([...pending.values()].map((t) => t.ms)).toEqual([3000]);
    await Promise.resolve();
    expect(done).toBeUndefined(); // still waiting
    fireAll();
    await announced;
    expect(done).toBe(true);

    drain.close();
    expect(drain.phase).toBe('closing');
    expect(drain.draining).toBe(true);
  });

  it('a delay of 0 resolves at once, without a timer', async () => {
    const { timers, pending } = fakeTimers();
    const drain = new Drain(timers);
    expect(await drain.announce(0)).toBe(true);
    expect(pending.size).toBe(0);
    expect(drain.draining).toBe(true);
  });

  it('skip() (a second signal) ends the delay early and clears its timer', async () => {
    const { timers, pending } = fakeTimers();
    const drain = new Drain(timers);
    const announced = drain.announce(60_000);
    drain.skip();
    expect(await announced).toBe(false);
    expect(pending.size).toBe(0);
    expect(drain.phase).toBe('draining');
  });

  it('announcing again while draining ends the running delay instead of starting another', async () => {
    const { timers, pending } = fakeTimers();
    const drain = new Drain(timers);
    const first = drain.announce(60_000);
    expect(await drain.announce(60_000)).toBe(false);
    expect(await first).toBe(false);
    expect(pending.size).toBe(0);
  });

  it('close() during the delay ends it too', async () => {
    const { timers } = fakeTimers();
    const drain = new Drain(timers);
    const announced = drain.announce(60_000);
    drain.close();
    expect(await announced).toBe(false);
    expect(drain.phase).toBe('closing');
  });

  it('skip() with nothing running does nothing', () => {
    const drain = new Drain(fakeTimers().timers);
    drain.skip();
    expect(drain.phase).toBe('serving');
  });
});
