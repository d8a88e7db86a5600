/**
 * `make attack` without Docker and without k6: the Node version (tools/attack.ts) against the
 * local lab's processes (config/policies.yaml, as `npm run lab`), short and bounded, with the
 * k6 script's thresholds in its report and its exit code.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startRole, stopAll } from './helpers/processes.js';

const ROOT = new URL('..', import.meta.url).pathname;
let limiter: ServiceProcess;

beforeAll(async () => {
  const nodes = await Promise.all([1, 2, 3].map((id) => startRole('node', ['--id', `node-${id}`])));
  const balancer = await startRole('balancer', ['--upstreams', nodes.map((n) => n.url).join(',')]);
  limiter = await startRole('limiter', [
    '--upstream',
    balancer.url,
    '--rate-limit-policies',
    'config/policies.yaml',
  ]);
}, 120_000);

afterAll(stopAll);

describe('make attack without Docker or k6', () => {
  it('runs the Node version through the limiter and passes the k6 thresholds', () => {
    // COMPOSE empty (no Docker) and K6_LOCAL empty (no k6), whatever this machine has.
    const run = spawnSync(
      'make',
      ['--no-print-directory', 'attack', 'K6_LOCAL=', `ARGS=--target ${limiter.url} --duration 8s`],
      { cwd: ROOT, env: { ...process.env, COMPOSE: '' }, encoding: 'utf8', timeout: 60_000 },
    );
    const output = `${run.stdout}${run.stderr}`;
    expect(output).toContain('k6 is not available here: running the Node version');
    expect(output).toMatch(/good_user\s+sent\s+\d+/);
    expect(output).toMatch(/bad_actor\s+sent\s+\d+/);
    expect(output).toContain('✓ checks{scenario:bad_actor} throttled (429) rate>0.5');
    expect(output).toContain('all thresholds passed');
    expect(run.status, output).toBe(0);
  }, 90_000);
});
