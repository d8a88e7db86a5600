/**
 * A real `redis-server` (Debian's; `.ci/run` installs it) on a free loopback port, for the
 * Redis store's tests and benchmarks. No persistence, no config file: every start is empty.
 *
 * `stop()` shuts it down (SIGTERM) and `start()` brings it back on the same port, so a test
 * can take the store away mid-run and give it back.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './processes.js';

export interface RedisServer {
  port: number;
  url: string;
  /** Starts (or restarts) the server on `port` and waits until it answers PING. */
  start(): Promise<void>;
  /** SIGTERM (or SIGKILL) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that accepts connections but never answers. */
  pause(): void;
  resume(): void;
  /** Everything the server printed. */
  output(): string;
  /** The server's pid while it runs. */
  pid(): number | undefined;
}

/** Whether `redis-server` is on the PATH. */
export function hasRedisServer(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One RESP PING over a fresh socket; true when the answer is +PONG. */
function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

const running = new Set<RedisServer>();

/**
 * @param [port] - a fixed port (default: a free one)
 * @example
 * const redis = await startRedis();
 * // ... REDIS_URL=redis.url ...
 * await redis.stop();
 */
export async function startRedis(port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  let proc: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  let out = '';
  const server: RedisServer = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    async start() {
      if (proc && proc.exitCode === null && proc.signalCode === null) return;
      proc = spawn(
        'redis-server',
        [
          '--port',
          String(chosen),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          '--loglevel',
          'warning',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const child = proc;
      let spawnError: Error | undefined;
      child.once('error', (error) => {
        spawnError = error;
      });
      child.stdout?.on('data', (c) => {
        out += c;
      });
      child.stderr?.on('data', (c) => {
        out += c;
      });
      exited = new Promise((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        if (spawnError)
          throw new Error(
            `cannot run redis-server (${spawnError.message}): install it (apt-get install redis-server; .ci/run does)`,
          );
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${out}`);
        if (await ping(chosen)) {
          running.add(server);
          return;
        }
        await sleep(25);
      }
      throw new Error(`redis-server did not answer PING on ${chosen} within 15 s:\n${out}`);
    },
    async stop(signal = 'SIGTERM') {
      const child = proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
      running.delete(server);
    },
    pause() {
      proc?.kill('SIGSTOP');
    },
    resume() {
      proc?.kill('SIGCONT');
    },
    output: () => out,
    pid: () => proc?.pid,
  };
  await server.start();
  return server;
}

/** Stops every server still running (call in `afterAll`). */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}
