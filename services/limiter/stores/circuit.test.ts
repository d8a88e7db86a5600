/**
 * The circuit breaker with an injected clock, around a store whose health the test
 * switches (a real Redis outage is in tests/limiter-redis.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.js';
import { createAlgorithm } from '../algorithms/index.js';
import type { Algorithm, Decision, Store } from '../types.js';
import { CircuitStore, StoreUnavailableError } from './circuit.js';

const bucket = createAlgorithm('token-bucket', { limit: 10, windowMs: 1000, burst: 10 });
const OK: Decision = { allowed: true, limit: 10, remaining: 9, resetMs: 100, retryAfterMs: 0 };

/** A remote-like store: answers with a promise, fails while `down`, counts the calls it got. */
class SwitchableStore implements Store {
  readonly kind = 'redis';
  down = false;
  calls = 0;
  consume(_key: string, _algorithm: Algorithm, _cost: number): Promise<Decision> {
    this.calls++;
    return this.down ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(OK);
  }
  trackedKeys = () => -1;
  clear() {}
  close() {}
}

function setup(options: { threshold?: number } = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('limiter', 'debug', (line) => lines.push(JSON.parse(line)));
  const clock = { now: 1_000_000 };
  const inner = new SwitchableStore();
  const circuit = new CircuitStore(inner, {
    log,
    failMode: 'closed',
    minBackoffMs: 100,
    maxBackoffMs: 800,
    now: () => clock.now,
    ...options,
  });
  const call = async () => {
    try {
      await circuit.consume('k', bucket, 1);
      return 'ok';
    } catch (error) {
      expect(error).toBeInstanceOf(StoreUnavailableError);
      return 'failed';
    }
  };
  return { lines, clock, inner, circuit, call };
}

describe('circuit store', () => {
  it('passes decisions through while the store is up', async () => {
    const { circuit, inner, call } = setup();
    for (let i = 0; i < 5; i++) expect(await call()).toBe('ok');
    expect(inner.calls).toBe(5);
    expect(circuit.state).toBe('up');
  });

  it('goes down after `threshold` failures in a row, then fails fast without calling the store', async () => {
    const { circuit, inner, call, lines } = setup({ threshold: 3 });
    inner.down = true;
    expect(await call()).toBe('failed');
    expect(await call()).toBe('failed');
    expect(circuit.state).toBe('up');
    expect(await call()).toBe('failed');
    expect(circuit.state).toBe('down');
    const before = inner.calls;
    for (let i = 0; i < 1000; i++) expect(await call()).toBe('failed');
    expect(inner.calls).toBe(before);
    expect(circuit.shed).toBe(1000);
    // Logged once, not per request.
    expect(lines.filter((l) => l.event === 'store_down')).toHaveLength(1);
    expect(lines.find((l) => l.event === 'store_down')).toMatchObject({
      level: 'warn',
      store: 'redis',
      fail_mode: 'closed',
      action: 'answering 503',
    });
  });

  it('a success in between resets the count (isolated errors do not trip it)', async () => {
    const { circuit, inner, call } = setup({ threshold: 3 });
    for (let i = 0; i < 10; i++) {
      inner.down = true;
      await call();
      await call();
      inner.down = false;
      expect(await call()).toBe('ok');
    }
    expect(circuit.state).toBe('up');
  });

  it('probes once per backoff, doubling up to the cap, and recovers by itself', async () => {
    const { circuit, inner, call, clock, lines } = setup({ threshold: 1 });
    inner.down = true;
    await call();
    expect(circuit.state).toBe('down');
    const probes: number[] = [];
    // 10 s of traffic, one request per 10 ms: the store sees only the probes.
    for (let t = 0; t < 10_000; t += 10) {
      clock.now += 10;
      const before = inner.calls;
      await call();
      if (inner.calls > before) probes.push(t + 10);
    }
    const gaps = probes.slice(1).map((t, i) => t - (probes[i] as number));
    expect(gaps.slice(0, 3)).toEqual([200, 400, 800]);
    expect(gaps.slice(3).every((g) => g === 800)).toBe(true);
    inner.down = false;
    clock.now += 800;
    expect(await call()).toBe('ok');
    expect(circuit.state).toBe('up');
    expect(await call()).toBe('ok');
    const up = lines.filter((l) => l.event === 'store_up');
    expect(up).toHaveLength(1);
    expect(up[0]).toMatchObject({ level: 'info', store: 'redis' });
    expect(up[0]?.down_ms).toBeGreaterThanOrEqual(10_000);
    expect(lines.filter((l) => l.event === 'store_down')).toHaveLength(1);
  });

  it('while a probe is in flight, the other requests fail fast', async () => {
    const { circuit, inner, clock } = setup({ threshold: 1 });
    inner.down = true;
    await expect(circuit.consume('k', bucket, 1)).rejects.toThrow(StoreUnavailableError);
    clock.now += 100;
    inner.down = false;
    const probe = circuit.consume('k', bucket, 1);
    expect(() => circuit.consume('k', bucket, 1)).toThrow(StoreUnavailableError);
    expect(inner.calls).toBe(2);
    await expect(probe).resolves.toEqual(OK);
    expect(circuit.state).toBe('up');
  });

  it('an answer the store gave without the network (a cached refusal) is not taken as recovery', async () => {
    const { circuit, inner, clock } = setup({ threshold: 1 });
    inner.down = true;
    await expect(circuit.consume('k', bucket, 1)).rejects.toThrow(StoreUnavailableError);
    clock.now += 100;
    const refused: Decision = { ...OK, allowed: false, remaining: 0, retryAfterMs: 50 };
    const consume = inner.consume.bind(inner);
    inner.consume = () => refused as unknown as Promise<Decision>;
    expect(circuit.consume('k', bucket, 1)).toEqual(refused);
    expect(circuit.state).toBe('down');
    inner.consume = consume;
    await expect(circuit.consume('k', bucket, 1)).rejects.toThrow(StoreUnavailableError);
    expect(circuit.state).toBe('down');
  });

  it('keeps the inner store kind (the metric label) and delegates close', async () => {
    const { circuit } = setup();
    expect(circuit.kind).toBe('redis');
    expect(circuit.trackedKeys()).toBe(-1);
  });
});
