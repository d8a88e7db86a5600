/**
 * A Docker engine for the compose test: the one already running, or a `dockerd` this
 * process starts (as root, when the binary is installed) and stops again afterwards.
 * `engineUnavailable` says why there is none, so the test can skip locally (and fail in CI).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const execFileAsync = promisify(execFile);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit (check `code`). */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 127,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? e.message,
    };
  }
}

/** Throws with the command's output unless it exited 0. */
export async function runOk(command: string, args: string[], options: Parameters<typeof run>[2] = {}) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`,
    );
  }
  return result;
}

export interface DockerEngine {
  /** Set when this process started dockerd; `stop()` ends it. */
  started?: ChildProcess;
  stop(): Promise<void>;
}

const engineAnswers = async () => (await run('docker', ['info'], { timeoutMs: 20_000 })).code === 0;

/**
 * @returns the engine, or a string saying why there is none (no docker CLI, no dockerd,
 * not root, dockerd did not come up).
 */
export async function dockerEngine(
  logFile = '/tmp/lab-compose-test-dockerd.log',
): Promise<DockerEngine | string> {
  if ((await run('docker', ['--version'], { timeoutMs: 10_000 })).code !== 0) {
    return 'the docker CLI is not installed';
  }
  if (await engineAnswers()) return { stop: async () => {} };
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((path) => existsSync(path));
  if (!dockerd) return 'no Docker engine answers and no dockerd binary is installed';
  if (process.getuid?.() !== 0) return 'no Docker engine answers, and starting dockerd needs root';
  const log = openSync(logFile, 'a');
  const child = spawn(dockerd, [], { stdio: ['ignore', log, log], detached: false });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return `dockerd exited with ${child.exitCode} (see ${logFile})`;
    if (await engineAnswers()) return { started: child, stop };
    await sleep(500);
  }
  await stop();
  return `dockerd did not answer within 60 s (see ${logFile})`;
}

export interface Compose {
  /** "v2" (`docker compose`, the CLI plugin) or "v1" (Debian's `docker-compose` 1.29). */
  name: 'v2' | 'v1';
  command: string[];
  /** `version --short`, or undefined when this compose is not installed. */
  version?: string;
}

/** Both compose implementations the Makefile supports, each with its version when installed. */
export async function composeCommands(): Promise<Compose[]> {
  const all: Compose[] = [
    { name: 'v2', command: ['docker', 'compose'] },
    { name: 'v1', command: ['docker-compose'] },
  ];
  for (const compose of all) {
    const [command, ...args] = compose.command;
    const result = await run(command as string, [...args, 'version', '--short'], { timeoutMs: 20_000 });
    if (result.code === 0) compose.version = result.stdout.trim();
  }
  return all;
}

/** `docker compose` (v2) when the plugin is there, else Debian's `docker-compose` 1.29. */
export async function composeCommand(): Promise<string[] | undefined> {
  if ((await run('docker', ['compose', 'version'], { timeoutMs: 20_000 })).code === 0)
    return ['docker', 'compose'];
  if ((await run('docker-compose', ['version'], { timeoutMs: 20_000 })).code === 0) return ['docker-compose'];
  return undefined;
}

/** The images a compose or stack file is started with here: the offline substitutes unless the environment names others. */
export function substituteImages(): Record<'NODE_IMAGE' | 'PROMETHEUS_IMAGE' | 'REDIS_IMAGE', string> {
  return {
    NODE_IMAGE: process.env.NODE_IMAGE || 'lab-offline/node:host',
    PROMETHEUS_IMAGE: process.env.PROMETHEUS_IMAGE || 'lab-offline/prometheus:host',
    REDIS_IMAGE: process.env.REDIS_IMAGE || 'lab-offline/redis:host',
  };
}

/**
 * A suite that needs what `ready` is (an engine, a compose): `body(ready)` when it is there;
 * when `ready` is the reason it is not, one failing test naming it under CI (.ci/run
 * installs docker.io and starts dockerd), and elsewhere a skipped suite and one line.
 */
export function describeWithDocker<T>(
  suite: string,
  title: string,
  ready: T | string,
  body: (ready: T) => void,
): void {
  if (typeof ready !== 'string') {
    body(ready);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('needs a Docker engine in CI (.ci/run installs docker.io and starts dockerd)', () => {
        throw new Error(`no Docker engine: ${ready}`);
      });
    });
    return;
  }
  console.warn(`${suite} skipped: ${ready} (it runs, and must pass, when CI=true)`);
  describe.skip(`${title} (skipped: ${ready})`, () => {
    it('runs', () => {});
  });
}
