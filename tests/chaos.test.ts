/**
 * `npm run chaos` against the local lab, as a learner runs it (the tool itself, after the test
 * setup built dist/): a bounded run with a node SIGKILLed every 5 s under steady GET traffic
 * through the edge must fail no request and leave every node back; Ctrl-C stops early, restores
 * the nodes and still reports; a lab already holding the ports gets a clear message.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from '../tools/chaos/report.js';
import { type LabRun, processesMatching, startLab } from './helpers/processes.js';

/** `npx tsx tools/chaos.ts ...` in a process group of its own, like a terminal's foreground job. */
const chaos = (args: string[]): LabRun =>
  startLab('npx', ['tsx', 'tools/chaos.ts', ...args], { ADMIN_TOKEN: 'chaos-test-token' });

function parseReport(run: LabRun): ChaosReport {
  try {
    return JSON.parse(run.stdout()) as ChaosReport;
  } catch {
    throw new Error(`no JSON report on stdout:\n${run.stdout().slice(-2000)}\n${run.stderr().slice(-4000)}`);
  }
}

/** Below the ephemeral range (32768+) with the limiter at 8080 + offset. */
const randomOffset = () => 18_000 + Math.floor(Math.random() * 600) * 10;

function expectConsistent(report: ChaosReport) {
  const q = report.requests;
  expect(q.sent).toBe(q.ok + q.failed);
  expect(Object.values(q.failures).reduce((a, b) => a + b, 0)).toBe(q.failed);
  expect(report.nodes.map((n) => n.name)).toEqual(['node-1', 'node-2', 'node-3']);
  expect(report.nodes.reduce((n, node) => n + node.kills, 0)).toBe(report.faults.length);
  for (const fault of report.faults) {
    expect(fault.error, JSON.stringify(fault)).toBeUndefined();
    expect(fault.restartedAtS).toBeGreaterThan(fault.killedAtS);
    expect(fault.backAtS).toBeGreaterThan(fault.restartedAtS as number);
    expect(fault.outS).toBeCloseTo((fault.backAtS as number) - fault.killedAtS, 1);
  }
}

function leftovers(offset: number): number[] {
  return [5001, 5002, 5003, 8081, 8080].flatMap((port) =>
    processesMatching('dist/main.js', `--port ${port + offset}`),
  );
}

describe('npm run chaos (local lab)', () => {
  it('30 s with a kill every 5 s: no failed GET, every node back, the counts add up', async () => {
    const offset = randomOffset();
    const run = chaos([
      '--duration',
      '30s',
      '--every',
      '5s',
      '--port-offset',
      String(offset),
      '--seed',
      '7',
      '--json',
    ]);
    try {
      expect(await run.closed, run.stderr().slice(-4000)).toBe(0);
      const report = parseReport(run);
      const q = report.requests;
      const log = run.stderr().slice(-4000);
      expect(report.aborted).toBe(false);
      expect(report.settings).toMatchObject({ durationS: 30, everyS: 5, restartAfterS: 2, maxDown: 2 });
      // Every arrival of the open model was sent (20/s × 30 s), and none failed.
      expect(q.sent + q.dropped, log).toBe(report.settings.rate * 30);
      expect(q.failures, log).toEqual({});
      expect(q.failed).toBe(0);
      expect(report.faults.length, log).toBeGreaterThanOrEqual(4);
      expect(report.faults.every((f) => f.seenDown)).toBe(true);
      expect(report.allBack).toBe(true);
      expect(report.nodes.every((n) => n.back)).toBe(true);
      expectConsistent(report);
      // The lab chaos started is gone with it.
      expect(leftovers(offset)).toEqual([]);
    } finally {
      try {
        process.kill(-(run.proc.pid as number), 'SIGKILL');
      } catch {
        // already gone: the normal case
      }
    }
  }, 90_000);

  it('Ctrl-C stops early, starts the killed node again and still reports', async () => {
    const offset = randomOffset();
    const run = chaos([
      '--duration',
      '60s',
      '--every',
      '2s',
      '--restart-after',
      '30s',
      '--port-offset',
      String(offset),
      '--json',
    ]);
    try {
      const deadline = Date.now() + 40_000;
      while (
        !/kill node-\d \(SIGKILL\)/.test(run.stderr()) &&
        Date.now() < deadline &&
        run.proc.exitCode === null
      )
        await sleep(100);
      expect(run.stderr()).toMatch(/kill node-\d \(SIGKILL\)/);
      await sleep(500);
      process.kill(-(run.proc.pid as number), 'SIGINT'); // the terminal's Ctrl-C: the whole group
      await run.closed;
      const report = parseReport(run);
      expect(report.aborted).toBe(true);
      expect(report.elapsedS).toBeLessThan(60);
      expect(report.faults.length).toBeGreaterThanOrEqual(1);
      // Restarted at once on Ctrl-C (not 30 s later), and seen healthy again.
      for (const fault of report.faults) expect(fault.restartedAtS).toBeLessThan(fault.killedAtS + 30);
      expect(report.allBack).toBe(true);
      expectConsistent(report);
      expect(run.stderr()).toContain('stopping the local lab');
      expect(leftovers(offset)).toEqual([]);
    } finally {
      try {
        process.kill(-(run.proc.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 90_000);

  it('refuses to start, suggesting --port-offset, when a lab holds the ports', async () => {
    const offset = randomOffset();
    const blocker = createServer().listen(8081 + offset, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const run = chaos(['--port-offset', String(offset)]);
      expect(await run.closed).toBe(1);
      expect(run.stderr()).toContain(`port(s) already in use: ${8081 + offset} (balancer)`);
      expect(run.stderr()).toContain('npm run chaos -- --port-offset 100');
      expect(run.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });

  it('names a bad flag and exits 2 without starting anything', async () => {
    const run = chaos(['--every', '0s']);
    expect(await run.closed).toBe(2);
    expect(run.stderr()).toMatch(/chaos: --every must be a duration like 10, 10s or 2m, got "0s"/);
  });
});
