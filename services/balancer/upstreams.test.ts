import type { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../shared/logger.js';
import type { ForwardOutcome } from '../shared/outcome.js';
import { resolveUpstreams } from './discovery.js';
import { parseUpstreams, UpstreamSet } from './upstreams.js';

const log = createLogger('test', 'silent');
const closed: string[] = [];
const fakePool = (url: string) => ({ close: async () => void closed.push(url) }) as unknown as Pool;
const specs = parseUpstreams('a=http://127.0.0.1:1,b=http://127.0.0.1:2,c=http://127.0.0.1:3');
const makeSet = (ejectAfter = 3) =>
  new UpstreamSet(specs, {
    log,
    ejectAfter,
    healthFall: 3,
    healthRise: 2,
    createPool: fakePool,
    now: () => 0,
  });

const outcome = (o: Partial<ForwardOutcome>): ForwardOutcome => ({
  status: 200,
  error: undefined,
  cause: undefined,
  sent: true,
  headersMs: 2,
  durationMs: 3,
  draining: false,
  refused: false,
  ...o,
});

describe('parseUpstreams', () => {
  it('reads names, weights and defaults the name to host:port', () => {
    expect(parseUpstreams(' node-1=http://127.0.0.1:5001*3 , http://node-2:8080 ,')).toEqual([
      { name: 'node-1', url: 'http://127.0.0.1:5001', weight: 3 },
      { name: 'node-2:8080', url: 'http://node-2:8080', weight: 1 },
    ]);
  });

  it.each([
    ['', /at least one/],
    ['127.0.0.1:5001', /not \[name=\]http/],
    ['http://a:1*0', /weight/],
    ['http://a:1/path', /without path/],
    ['ftp://a:1', /only http/],
    ['x=http://a:1,x=http://b:2', /used twice/],
  ])('refuses %j', (text, reason) => {
    expect(() => parseUpstreams(text)).toThrow(reason);
  });
});

describe('UpstreamSet', () => {
  it('ejects at once on a connect failure and re-admits after `rise` passed checks', () => {
    const set = makeSet();
    const a = set.get('a');
    if (!a) throw new Error('a missing');
    set.recordTry(
      a,
      outcome({ status: 0, error: 'connect', sent: false, cause: new Error('ECONNREFUSED') }),
      false,
    );
    expect(a.healthy).toBe(false);
    expect(set.healthy.map((u) => u.id)).toEqual(['b', 'c']);
    set.recordCheck(a, true);
    expect(a.healthy).toBe(false);
    set.recordCheck(a, true);
    expect(a.healthy).toBe(true);
    expect(set.healthy.map((u) => u.id)).toEqual(['a', 'b', 'c']);
  });

  it('ejects after `ejectAfter` consecutive 5xx, and a success resets the count', () => {
    const set = makeSet(3);
    const b = set.get('b');
    if (!b) throw new Error('b missing');
    set.recordTry(b, outcome({ status: 500 }), false);
    set.recordTry(b, outcome({ status: 502 }), false);
    set.recordTry(b, outcome({ status: 200 }), false);
    set.recordTry(b, outcome({ status: 500 }), false);
    set.recordTry(b, outcome({ status: 500 }), false);
    expect(b.healthy).toBe(true);
    set.recordTry(b, outcome({ status: 503 }), false);
    expect(b.healthy).toBe(false);
    expect(b.counts).toEqual({ ok: 1, error: 5, timeout: 0, retried: 0 });
  });

  it('never ejects with ejectAfter 0, and a client abort is not held against the upstream', () => {
    const set = makeSet(0);
    const c = set.get('c');
    if (!c) throw new Error('c missing');
    for (let i = 0; i < 10; i++)
      set.recordTry(c, outcome({ status: 0, error: 'connect', sent: false }), false);
    expect(c.healthy).toBe(true);
    const other = makeSet(1);
    const a = other.get('a');
    if (!a) throw new Error('a missing');
    other.recordTry(a, outcome({ status: 0, error: 'aborted', sent: false }), false);
    expect(a.healthy).toBe(true);
  });

  it('marks down after `fall` failed checks', () => {
    const set = makeSet();
    const a = set.get('a');
    if (!a) throw new Error('a missing');
    set.recordCheck(a, false, 'ECONNREFUSED');
    set.recordCheck(a, false, 'ECONNREFUSED');
    expect(a.healthy).toBe(true);
    set.recordCheck(a, false, 'ECONNREFUSED');
    expect(a.healthy).toBe(false);
    expect(a.downReason).toMatch(/health check failed 3 times/);
  });

  it('marks down at once when a check says the upstream is draining, and back up after `rise` passes', () => {
    const set = makeSet();
    const a = set.get('a');
    if (!a) throw new Error('a missing');
    set.recordCheck(a, false, 'status 503 (draining)', true);
    expect(a.healthy).toBe(false);
    expect(a.downReason).toBe('draining: health check answered status 503 (draining)');
    expect(set.healthy.map((u) => u.id)).not.toContain('a');
    set.recordCheck(a, true);
    expect(a.healthy).toBe(false);
    set.recordCheck(a, true);
    expect(a.healthy).toBe(true);
  });

  it('replace() adds and removes upstreams, keeping the state of the others, and closes removed pools', () => {
    const set = makeSet();
    const b = set.get('b');
    if (!b) throw new Error('b missing');
    b.inFlight = 4;
    const before = set.healthy;
    const change = set.replace([
      ...specs.filter((s) => s.name !== 'a'),
      { name: 'd', url: 'http://127.0.0.1:4', weight: 1 },
    ]);
    expect(change).toEqual({ added: ['d'], removed: ['a'] });
    expect(set.all.map((u) => u.id)).toEqual(['b', 'c', 'd']);
    expect(set.get('b')).toBe(b);
    expect(set.healthy).not.toBe(before); // a new list, so rings rebuild
    expect(closed).toContain('http://127.0.0.1:1');
  });

  it('setWeights() refuses an unknown name and changes nothing', () => {
    const set = makeSet();
    expect(() => set.setWeights({ a: 3, zzz: 2 })).toThrow(/unknown upstream "zzz"/);
    expect(set.get('a')?.weight).toBe(1);
    set.setWeights({ a: 3 });
    expect(set.get('a')?.weight).toBe(3);
  });
});

describe('resolveUpstreams (DNS discovery)', () => {
  it('turns every A record into an upstream named ip:port, sorted and de-duplicated', async () => {
    const resolver = async () => ['10.0.0.3', '10.0.0.1', '10.0.0.3'];
    expect(await resolveUpstreams('node:8080', resolver)).toEqual([
      { name: '10.0.0.1:8080', url: 'http://10.0.0.1:8080', weight: 1 },
      { name: '10.0.0.3:8080', url: 'http://10.0.0.3:8080', weight: 1 },
    ]);
  });

  it('resolves through the system resolver (localhost)', async () => {
    expect((await resolveUpstreams('localhost:5001')).map((s) => s.name)).toContain('127.0.0.1:5001');
  });

  it('fails on a name with no records', async () => {
    await expect(resolveUpstreams('node:8080', async () => [])).rejects.toThrow(/no A records/);
  });
});
