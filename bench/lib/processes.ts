/**
 * @module
 * Processes the benchmark starts and measures: services from `dist/` (through the test
 * helpers), external servers (nginx, haproxy) and CPU accounting from `/proc`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export { freePort, spawnRole, stopAll, waitForHttp } from '../../tests/helpers/processes.js';

/** Whether `tool` is on the PATH. */
export function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) used so far by `pid` and all its live descendants. */
export function treeCpuSeconds(pid: number): number {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      cpu.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const current = stack.pop() as number;
    total += cpu.get(current) ?? 0;
    for (const [child, parent] of parents) if (parent === current) stack.push(child);
  }
  return total;
}

export interface External {
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts an external server in the foreground, output captured. */
export function startExternal(command: string, args: string[]): External {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (c) => {
    out += c;
  });
  proc.stderr?.on('data', (c) => {
    out += c;
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000).then(() => proc.kill('SIGKILL'))]);
    },
  };
}
