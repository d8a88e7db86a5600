/**
 * Real services as child processes on loopback, for the process-level tests.
 * Each started process is stopped by `stopAll()` (call it in `afterAll`/`afterEach`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_NODE_FLAGS } from '../../services/shared/runtime.js';

export const ADMIN_TOKEN = 'test-admin-token';

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface ServiceProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  /** Everything written so far. */
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** SIGTERM (or another signal) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<ServiceProcess>();

/**
 * Spawns `node dist/main.js <role> ...args` with its own output captured. SIGTERM closes
 * the listener at once (`DRAIN_DELAY_MS=0`) unless `env` asks for a drain delay. One
 * event loop (`WORKERS=1`) unless `env` asks for more: these tests assert what one
 * loop does (round-robin order, per-process logs); tests/workers.test.ts and the
 * compose test run several.
 */
export function spawnRole(
  role: string,
  args: string[] = [],
  env: Record<string, string> = {},
): ServiceProcess {
  const proc = spawn(process.execPath, [...SERVICE_NODE_FLAGS, 'dist/main.js', role, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', DRAIN_DELAY_MS: '0', WORKERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  proc.stderr?.on('data', (chunk) => {
    err += chunk;
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const portIndex = args.indexOf('--port');
  const port = portIndex === -1 ? Number(env.PORT ?? 0) : Number(args[portIndex + 1]);
  const service: ServiceProcess = {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await exited;
      running.delete(service);
      return code;
    },
  };
  running.add(service);
  exited.then(() => running.delete(service));
  return service;
}

/** Polls `url` until it answers 200, or fails after `timeoutMs` with the process output. */
export async function waitForHttp(url: string, timeoutMs = 15_000, service?: ServiceProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service && service.proc.exitCode !== null) {
      throw new Error(
        `process exited (${service.proc.exitCode}) before ${url} answered:\n${service.stderr()}`,
      );
    }
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  throw new Error(
    `${url} did not answer 200 within ${timeoutMs} ms\n${service?.stdout() ?? ''}${service?.stderr() ?? ''}`,
  );
}

/** Starts a role on a free port and waits until `healthPath` answers. */
export async function startRole(
  role: string,
  args: string[] = [],
  env: Record<string, string> = {},
  healthPath = role === 'node' ? '/health' : '/healthz',
): Promise<ServiceProcess> {
  const port = await freePort();
  const service = spawnRole(role, ['--port', String(port), ...args], { ADMIN_TOKEN, ...env });
  await waitForHttp(`${service.url}${healthPath}`, 15_000, service);
  return service;
}

/** Stops every process still running (SIGKILL after 5 s). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(async (service) => {
      const timer = setTimeout(() => service.proc.kill('SIGKILL'), 5_000);
      await service.stop();
      clearTimeout(timer);
    }),
  );
}

/** `PUT /admin/config` with the test token; returns the response. */
export function putConfig(baseUrl: string, body: unknown): Promise<Response> {
  return fetch(`${baseUrl}/admin/config`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** PIDs of live processes whose command line contains every one of `needles` (Linux /proc). */
export function processesMatching(...needles: string[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (needles.every((needle) => cmdline.includes(needle))) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** A lab runner started in its own process group, its output collected. */
export interface LabRun {
  proc: ChildProcess;
  /** stdout and stderr interleaved as they arrived. */
  output: () => string;
  stdout: () => string;
  stderr: () => string;
  /** Settles when every holder of the output pipes is gone (npm, tsx, the lab, its services). */
  closed: Promise<number | string | null>;
  /** Waits for the "all N services healthy" line; fails with the output tail. */
  healthy(timeoutMs?: number): Promise<void>;
}

export function startLab(command: string, args: string[], env: Record<string, string>): LabRun {
  const proc = spawn(command, args, {
    detached: true, // its own process group, like a terminal's foreground job
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (chunk) => {
    out += chunk;
    stdout += chunk;
  });
  proc.stderr?.on('data', (chunk) => {
    out += chunk;
    stderr += chunk;
  });
  const closed = new Promise<number | string | null>((resolve) =>
    proc.once('close', (code, signal) => resolve(code ?? signal)),
  );
  return {
    proc,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    closed,
    async healthy(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (!/all \d+ services healthy/.test(out) && Date.now() < deadline && proc.exitCode === null) {
        await sleep(100);
      }
      if (!/all \d+ services healthy/.test(out))
        throw new Error(`the lab did not become healthy:\n${out.slice(-3000)}`);
    },
  };
}
