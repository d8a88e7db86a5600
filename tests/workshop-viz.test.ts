/**
 * The visualizers end to end against real services on loopback: three nodes, the balancer
 * and the limiter as processes (tests/helpers/processes.ts), real traffic from the shared
 * engine, the same code paths as `npm run viz:lb` / `npm run viz:rl`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLine } from '../tools/viz/format.js';
import { vizLb } from '../tools/viz-lb.js';
import { vizRl } from '../tools/viz-rl.js';
import { putConfig, type ServiceProcess, startRole, stopAll } from './helpers/processes.js';

/** Collects what a CLI would print to a pipe (not a TTY). */
function pipe() {
  let text = '';
  return {
    out: { write: (chunk: string) => (text += chunk), isTTY: false },
    lines: () => text.split('\n'),
  };
}

let nodes: ServiceProcess[] = [];
let balancer: ServiceProcess;
let limiter: ServiceProcess;

beforeAll(async () => {
  nodes = await Promise.all([1, 2, 3].map((id) => startRole('node', ['--id', String(id)])));
  balancer = await startRole('balancer', [
    '--upstreams',
    nodes.map((n) => n.url).join(','),
    '--strategy',
    'round-robin',
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'workshop-viz-'));
  const policies = join(dir, 'policies.yaml');
  // The lab's shape: 10/s for everyone, the good user 20/s.
  writeFileSync(
    policies,
    'default: { algorithm: token-bucket, limit: 10, window: 1s }\nclients:\n  good-user: { algorithm: token-bucket, limit: 20, window: 1s }\n',
  );
  limiter = await startRole('limiter', ['--upstream', balancer.url, '--rate-limit-policies', policies]);
}, 120_000);

afterAll(stopAll);

describe('viz:lb through the real balancer', () => {
  it('round-robin: three near-equal bars, the strategy in the title, parsable lines', async () => {
    const { out, lines } = pipe();
    const result = await vizLb({
      target: balancer.url,
      rate: 30,
      concurrency: 50,
      durationMs: 3_000,
      windowMs: 3_000,
      intervalMs: 1_000,
      out,
    });
    expect(result.strategy).toBe('round-robin');
    const counts = result.totals.nodes.map((n) => n.count);
    const total = counts.reduce((a, b) => a + b, 0);
    expect(result.totals.nodes).toHaveLength(3);
    expect(result.totals.limited).toBe(0);
    for (const count of counts) expect(Math.abs(count / total - 1 / 3)).toBeLessThan(0.05);
    const intervals = lines()
      .filter((l) => l.startsWith('t='))
      .map(parseLine);
    expect(intervals.length).toBeGreaterThanOrEqual(2);
    expect(intervals.every((l) => l.strategy === 'round-robin' && typeof l.total === 'number')).toBe(true);
    const final = parseLine(lines().find((l) => l.startsWith('final=lb')) ?? '');
    expect(final.total).toBe(total);
  });

  it('least-connections with a slowed node: a shorter bar for that node', async () => {
    const slow = nodes[1] as ServiceProcess;
    expect((await putConfig(slow.url, { latencyMs: 300 })).status).toBe(200);
    expect((await putConfig(balancer.url, { strategy: 'least-connections' })).status).toBe(200);
    try {
      const { out } = pipe();
      const result = await vizLb({
        target: balancer.url,
        rate: 40,
        concurrency: 100,
        durationMs: 4_000,
        windowMs: 4_000,
        intervalMs: 1_000,
        out,
      });
      expect(result.strategy).toBe('least-connections');
      const byNode = new Map(result.totals.nodes.map((n) => [n.name, n.count]));
      const slowName = new URL(slow.url).host;
      const slowCount = byNode.get(slowName) ?? 0;
      const others = [...byNode].filter(([name]) => name !== slowName).map(([, count]) => count);
      expect(others).toHaveLength(2);
      for (const other of others) expect(slowCount).toBeLessThan(other / 2);
    } finally {
      await putConfig(slow.url, { latencyMs: 0 });
      await putConfig(balancer.url, { strategy: 'round-robin' });
    }
  });
});

describe('viz:rl through the real limiter', () => {
  it('the good user keeps 100% 200s while the bad actor gets 429s', async () => {
    const { out, lines } = pipe();
    const summaries = await vizRl({
      target: limiter.url,
      goodRate: 2,
      badRate: 30,
      concurrency: 100,
      durationMs: 4_000,
      intervalMs: 1_000,
      out,
    });
    const good = summaries.find((s) => s.actor === 'good_user');
    const bad = summaries.find((s) => s.actor === 'bad_actor');
    expect(good?.total).toBeGreaterThanOrEqual(7);
    expect(good?.successRate).toBe(1);
    expect(bad?.limited).toBeGreaterThan(0);
    expect(bad?.ok).toBeGreaterThan(0);
    const finals = lines()
      .filter((l) => l.startsWith('final=rl'))
      .map(parseLine);
    expect(finals.find((f) => f.actor === 'good_user')).toMatchObject({ success_pct: 100, '429s': 0 });
    expect(Number(finals.find((f) => f.actor === 'bad_actor')?.['429s'])).toBeGreaterThan(0);
    const intervals = lines()
      .filter((l) => l.startsWith('t='))
      .map(parseLine);
    expect(intervals.at(-1)?.['good_user.ok']).toBe(good?.ok);
  });
});

describe('the CLI', () => {
  it('npm run viz:rl stops cleanly on Ctrl-C and still prints its summary', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'tools/viz-rl.ts',
        '--target',
        limiter.url,
        '--duration',
        '60s',
        '--bad-rate',
        '20',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for the first interval line, then press Ctrl-C.
    for (let i = 0; i < 300 && !output.includes('t='); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('final=rl actor=good_user');
    expect(output).toContain('final=rl actor=bad_actor');
  });

  it('a bad flag exits 2 naming it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'tools/viz-lb.ts', '--rate', 'lots'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain('--rate must be a number');
  });
});
