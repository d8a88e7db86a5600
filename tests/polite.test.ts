/**
 * The polite client against the real lab: three nodes, the balancer and the limiter as
 * processes with the lab's own policies (config/policies.yaml: `naive-client` and
 * `polite-client`, 10/s each), and `npm run polite`'s code: both clients at 50/s for 15 s,
 * distinct keys. The polite one must get within 5% as many requests admitted while sending
 * far fewer; the limiter's own decision counters must agree with what the clients counted;
 * every answer must carry well-formed standard fields.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PoliteReport, politeRun } from '../tools/polite.js';
import { vizRl } from '../tools/viz-rl.js';
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
    join(ROOT, 'config/policies.yaml'),
  ]);
}, 120_000);

afterAll(stopAll);

/** `lab_ratelimit_decisions_total` of one client and decision, from the limiter's /metrics. */
async function decisions(client: string, decision: 'allowed' | 'rejected'): Promise<number> {
  const text = await (await fetch(`${limiter.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('lab_ratelimit_decisions_total{') &&
        l.includes(`client="${client}"`) &&
        l.includes(`decision="${decision}"`),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('polite vs naive client through the real limiter', () => {
  let report: PoliteReport;
  let output = '';

  beforeAll(async () => {
    report = await politeRun({
      target: limiter.url,
      rate: 50,
      durationMs: 15_000,
      intervalMs: 5_000,
      out: { write: (text: string) => (output += text) },
    });
    const { naive, polite } = report;
    console.log(
      [
        'polite vs naive, 15 s at 50/s each, quota 10/s each (token bucket, bursts of 10):',
        `  naive : offered ${naive.offered}, sent ${naive.sent}, admitted ${naive.admitted}, 429s ${naive.limited}, errors ${naive.errors}`,
        `  polite: offered ${polite.offered}, sent ${polite.sent}, admitted ${polite.admitted}, 429s ${polite.limited}, errors ${polite.errors}, held back ${polite.held}`,
        `  polite/naive: admitted ${(report.admittedRatio * 100).toFixed(1)}%, sent ${(report.sentRatio * 100).toFixed(1)}%`,
      ].join('\n'),
    );
  }, 60_000);

  it('both clients were offered the same load', () => {
    expect(report.naive.offered).toBe(750);
    expect(report.polite.offered).toBe(750);
    expect(report.naive.sent).toBe(750);
    // Every arrival of the polite client was sent or held back.
    expect(report.polite.sent + report.polite.held + report.polite.dropped).toBe(750);
  });

  it('the polite client gets within 5% as many admitted while sending far fewer requests', () => {
    expect(report.naive.admitted).toBeGreaterThan(100);
    expect(report.polite.admitted).toBeGreaterThanOrEqual(0.95 * report.naive.admitted);
    expect(report.polite.sent).toBeLessThan(0.5 * report.naive.sent);
    expect(report.polite.limited).toBeLessThan(0.1 * report.naive.limited);
  });

  it("the limiter's own counters agree with what the clients counted", async () => {
    expect(await decisions('naive-client', 'allowed')).toBe(report.naive.admitted);
    expect(await decisions('naive-client', 'rejected')).toBe(report.naive.limited);
    expect(await decisions('polite-client', 'allowed')).toBe(report.polite.admitted);
    expect(await decisions('polite-client', 'rejected')).toBe(report.polite.limited);
  });

  it('every answer carried well-formed RateLimit-Policy and RateLimit, and Retry-After on each 429', () => {
    expect(report.naive.fieldProblems, report.naive.firstProblem).toBe(0);
    expect(report.polite.fieldProblems, report.polite.firstProblem).toBe(0);
    expect(output).toContain('final=polite client=polite offered=750');
  });

  it('npm run polite: flags, the table and the parsable lines', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'tools/polite.ts', '--target', limiter.url, '--rate', '20', '--duration', '2s'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('Naive vs polite client');
    expect(stdout).toMatch(/final=polite client=naive offered=40 sent=40 /);
    expect(stdout).toMatch(/final=polite admitted_ratio=[\d.]+ sent_ratio=[\d.]+/);

    const bad = spawn(process.execPath, ['--import', 'tsx', 'tools/polite.ts', '--rate', 'lots'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let badErr = '';
    bad.stderr.on('data', (chunk) => {
      badErr += chunk;
    });
    expect(await new Promise((resolve) => bad.on('exit', resolve))).toBe(2);
    expect(badErr).toContain('--rate must be a number');
  }, 30_000);

  it('viz:rl --polite: the bad actor backs off, so it collects few 429s and holds most requests back', async () => {
    let text = '';
    const summaries = await vizRl({
      target: limiter.url,
      goodRate: 2,
      badRate: 50,
      polite: true,
      concurrency: 100,
      durationMs: 4_000,
      intervalMs: 1_000,
      out: { write: (chunk: string) => (text += chunk), isTTY: false },
    });
    const bad = summaries.find((s) => s.actor === 'bad_actor');
    expect(bad?.ok).toBeGreaterThan(0);
    expect(bad?.held ?? 0).toBeGreaterThan(bad?.total ?? 0);
    expect(bad?.limited ?? 0).toBeLessThan(0.2 * (bad?.total ?? 0));
    expect(text).toMatch(/polite bad actor: \d+ requests held back/);
  }, 30_000);
});
