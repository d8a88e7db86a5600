/**
 * `npm run lab -- --redis`: the local lab starts its own `redis-server` on a free port, the
 * limiter decides through it, and Ctrl-C stops Redis with everything else.
 */
import { describe, expect, it } from 'vitest';
import { SERVICES } from '../tools/lab.js';
import { processesMatching, startLab } from './helpers/processes.js';
import { REDIS_SERVER, skipWithout } from './helpers/requires.js';

describe.skipIf(skipWithout('limiter-redis-lab test', [REDIS_SERVER]))('npm run lab -- --redis', () => {
  it('runs the limiter on a redis-server of its own, and stops it on Ctrl-C', async () => {
    const offset = 16_000 + Math.floor(Math.random() * 600) * 10;
    // dist/ is built by the test setup: run the lab runner itself (what `npm run lab` runs after building).
    const lab = startLab('npx', ['tsx', 'tools/lab.ts', '--redis', '--port-offset', String(offset)], {
      ADMIN_TOKEN: 'lab-test-token',
      REDIS_URL: '',
      // What is checked is that Redis decides, with no store error: the default 50 ms per
      // decision (the first ones also load the scripts) was missed on a loaded 2-core
      // machine and counted as store errors (a fresh-clone CI run failed on it).
      RATE_LIMIT_STORE_TIMEOUT: '2s',
    });
    try {
      await lab.healthy();
      const output = lab.output();
      const redisPort = /limiter store: redis at redis:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      expect(redisPort).toBeDefined();
      expect(output).toContain('"event":"redis_connected"');
      expect(processesMatching('redis-server', `:${redisPort}`)).toHaveLength(1);

      const limiter = `http://127.0.0.1:${8080 + offset}`;
      const config = await fetch(`${limiter}/admin/config`, {
        headers: { authorization: 'Bearer lab-test-token' },
      }).then((r) => r.json() as Promise<{ store: string }>);
      expect(config.store).toBe('redis');
      // The default policy (10 per second per client): a burst of 25 meets 429s.
      const statuses = await Promise.all(
        Array.from({ length: 25 }, () =>
          fetch(`${limiter}/health`).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      expect(statuses).toContain(429);
      const metrics = await fetch(`${limiter}/metrics`).then((r) => r.text());
      expect(metrics).not.toMatch(/lab_ratelimit_store_errors_total\{[^}]*\} [1-9]/);

      process.kill(-(lab.proc.pid as number), 'SIGINT');
      expect([0, 'SIGINT']).toContain(await lab.closed);
      // Every service of the lab's table, and its redis-server.
      expect(lab.output(), lab.output().slice(-2500)).toContain(
        `lab: stopped ${SERVICES.length + 1} service(s)`,
      );
      expect(processesMatching('redis-server', `:${redisPort}`)).toEqual([]);
    } finally {
      try {
        process.kill(-(lab.proc.pid as number), 'SIGKILL');
      } catch {
        // nothing left: the normal case
      }
    }
  }, 150_000);
});
