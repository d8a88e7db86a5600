import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../shared/logger.js';
import { loadScenarios } from '../traffic/scenarios.js';
import { ConsoleTraffic, GOOD_USER } from './traffic.js';

// A stand-in edge on loopback: 200 for the good user, 429 for anyone else, counting what arrives.
const arrived: Record<string, number> = {};
const edge = createServer((req, res) => {
  const key = String(req.headers['x-api-key']);
  arrived[key] = (arrived[key] ?? 0) + 1;
  req.resume();
  res.writeHead(key === 'good-user' ? 200 : 429).end();
}).listen(0, '127.0.0.1');
await once(edge, 'listening');
const target = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
afterAll(() => {
  edge.close();
});

const until = async (condition: () => boolean) => {
  const deadline = Date.now() + 10_000;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(condition()).toBe(true);
};

describe('ConsoleTraffic', () => {
  it("runs the scenario file's actors at their default rates until started otherwise", () => {
    const traffic = new ConsoleTraffic({ target, log: createLogger('console', 'silent') });
    const scenario = loadScenarios().scenarios.console;
    expect(traffic.names).toEqual(Object.keys(scenario?.traffic ?? {}));
    expect(traffic.status().actors.map((a) => [a.name, a.running, a.rate])).toEqual([
      ['good_user', false, 2],
      ['bad_actor', false, 20],
    ]);
  });

  it("counts each actor's answers, measures the good user, and a stopped actor sends nothing more", async () => {
    const traffic = new ConsoleTraffic({ target, log: createLogger('console', 'silent') });
    await traffic.start(GOOD_USER, 50);
    await traffic.start('bad_actor', 50);
    await until(() => {
      const [good, bad] = traffic.status().actors;
      return (good?.ok ?? 0) >= 10 && (bad?.limited ?? 0) >= 10;
    });
    const status = traffic.status();
    expect(status.actors.map((a) => [a.name, a.running, a.rate, a.errors])).toEqual([
      ['good_user', true, 50, 0],
      ['bad_actor', true, 50, 0],
    ]);
    expect(status.actors[0]?.limited).toBe(0);
    expect(status.actors[1]?.ok).toBe(0);
    expect(status.goodLatency.samples).toBeGreaterThan(0);
    expect(status.goodLatency.p95).toBeGreaterThanOrEqual(status.goodLatency.p50);

    await traffic.stopAll();
    expect(traffic.status().actors.map((a) => a.running)).toEqual([false, false]);
    const afterStop = { ...arrived };
    await new Promise((r) => setTimeout(r, 300));
    expect(arrived).toEqual(afterStop);
  });
});
