/**
 * @module
 * `npm run lab`: the lab's services as local processes on 127.0.0.1, no Docker.
 *
 * Starts each service from `dist/main.js`, waits until it answers its health path,
 * prefixes every log line with the service's name, prints the URLs and the admin
 * token, and stops everything cleanly on Ctrl-C, or when one service dies (saying which).
 *
 * Flags: `--port-offset N` shifts every port (two labs side by side, or tests);
 * `--redis` gives the limiter the Redis store (`RATE_LIMIT_STORE=redis`): `REDIS_URL` when
 * set, else a `redis-server` of this machine started on a free port (no persistence) and
 * stopped with the lab.
 *
 * The runner itself is {@link LocalLab} (exported with the service table), so other tools
 * can run a lab of their own: `npm run chaos` starts one and SIGKILLs and restarts its nodes.
 * The lab console (:8090) is started with an IPC channel, over which its Kill and Revive
 * buttons ask this runner to kill and restart a node.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { LabReply, LabRequest } from '../services/console/lab-link.js';
import { SERVICE_NODE_FLAGS } from '../services/shared/runtime.js';

export interface LabService {
  name: string;
  role: string;
  port: number;
  /** Flags after `--port`, e.g. the node's id. */
  args: (lab: LabContext) => string[];
  /** Path that answers 200 once the service is ready. */
  health: string;
  /** Started after every service of a lower stage is healthy. */
  stage: number;
  /**
   * Started with an IPC channel: its requests to kill and revive a node are carried out by
   * this runner (the console's buttons, services/console/lab-link.ts).
   */
  controlsNodes?: boolean;
}

export interface LabContext {
  offset: number;
  /** Port of a service by name, offset applied. */
  port(name: string): number;
}

/** The local lab, in DESIGN.md's ports. */
export const SERVICES: LabService[] = [
  ...[1, 2, 3].map((n) => ({
    name: `node-${n}`,
    role: 'node',
    port: 5000 + n,
    args: () => ['--id', String(n)],
    health: '/health',
    stage: 0,
  })),
  {
    name: 'balancer',
    role: 'balancer',
    port: 8081,
    args: (lab) => [
      '--upstreams',
      [1, 2, 3].map((n) => `http://127.0.0.1:${lab.port(`node-${n}`)}`).join(','),
    ],
    health: '/healthz',
    stage: 1,
  },
  {
    name: 'limiter',
    role: 'limiter',
    port: 8080,
    args: (lab) => [
      '--upstream',
      `http://127.0.0.1:${lab.port('balancer')}`,
      '--rate-limit-policies',
      process.env.RATE_LIMIT_POLICIES || 'config/policies.yaml',
    ],
    health: '/healthz',
    stage: 2,
  },
  {
    name: 'console',
    role: 'console',
    port: 8090,
    args: (lab) => [
      '--limiter-url',
      `http://127.0.0.1:${lab.port('limiter')}`,
      '--balancer-url',
      `http://127.0.0.1:${lab.port('balancer')}`,
      '--node-urls',
      [1, 2, 3].map((n) => `node-${n}=http://127.0.0.1:${lab.port(`node-${n}`)}`).join(','),
    ],
    health: '/healthz',
    stage: 3,
    controlsNodes: true,
  },
];

export async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The lab's ports already in use at `offset`, as `8080 (limiter)`. */
export async function takenPorts(offset: number): Promise<string[]> {
  const taken: string[] = [];
  for (const service of SERVICES) {
    if (!(await portIsFree(service.port + offset))) taken.push(`${service.port + offset} (${service.name})`);
  }
  return taken;
}

/** What to tell a learner whose lab ports are taken; `command` is how to start it elsewhere. */
export function portsTakenMessage(name: string, taken: string[], command: string): string {
  return (
    `${name}: port(s) already in use: ${taken.join(', ')}.\n` +
    '     Another lab may be running (stop it with Ctrl-C, or `make down` for the compose lab),\n' +
    `     or start this one elsewhere with \`${command} --port-offset 100\`.\n`
  );
}

export interface LocalLabOptions {
  /** Added to every port. [0] */
  offset?: number;
  /** `ADMIN_TOKEN` of every service. [$ADMIN_TOKEN or lab-admin] */
  adminToken?: string;
  /** One log line of a service; without it the lines are dropped. */
  output?: (service: string, line: string) => void;
  /** Each service in a process group of its own, so a terminal's Ctrl-C reaches only the runner. [false] */
  detached?: boolean;
  /** A service (or the lab's redis) exited on its own, not through `kill()` or `stop()`. */
  onUnexpectedExit?: (name: string, how: string) => void;
}

/**
 * The lab's processes: start them in stages, kill and restart one, stop them all.
 * @example
 * const lab = new LocalLab({ offset: 100 });
 * await lab.startAll();
 * await lab.kill('node-2'); // SIGKILL, not reported as unexpected
 * await lab.restart('node-2');
 * await lab.stop();
 */
export class LocalLab implements LabContext {
  readonly offset: number;
  readonly adminToken: string;
  /** Environment for every service (the limiter's store with `--redis`). */
  readonly env: Record<string, string> = {};
  /** Running children and a promise settled once each has exited and its output is relayed. */
  readonly #children = new Map<string, { child: ChildProcess; closed: Promise<unknown> }>();
  /** Services being killed on purpose: their exit is not unexpected. */
  readonly #expected = new Set<string>();
  readonly #options: LocalLabOptions;
  #stopping = false;

  constructor(options: LocalLabOptions = {}) {
    this.#options = options;
    this.offset = options.offset ?? 0;
    this.adminToken = options.adminToken ?? (process.env.ADMIN_TOKEN || 'lab-admin');
  }

  port(name: string): number {
    return service(name).port + this.offset;
  }

  url(name: string): string {
    return `http://127.0.0.1:${this.port(name)}`;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  running(name: string): boolean {
    return this.#children.has(name);
  }

  #relay(name: string, child: ChildProcess): void {
    const output = this.#options.output;
    if (!output) return;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => output(name, line));
    }
  }

  #watch(name: string, child: ChildProcess): void {
    // 'close' (not 'exit'): the child's last log lines have been relayed by then.
    const closed = once(child, 'close');
    child.once('close', (code, signal) => {
      this.#children.delete(name);
      const expected = this.#expected.delete(name);
      if (!this.#stopping && !expected) this.#options.onUnexpectedExit?.(name, signal ?? `code ${code}`);
    });
    this.#children.set(name, { child, closed });
  }

  /** Carries out a console's kill or revive of a node, and answers it. */
  async #control(child: ChildProcess, request: LabRequest): Promise<void> {
    if (request?.type !== 'lab-control') return;
    const reply: LabReply = { type: 'lab-control-result', id: request.id };
    try {
      if (!/^node-\d+$/.test(request.service))
        throw new Error(`only nodes can be killed here, not ${request.service}`);
      if (request.action === 'kill') await this.kill(request.service);
      else await this.restart(request.service);
    } catch (error) {
      reply.error = (error as Error).message;
    }
    if (child.connected) child.send(reply);
  }

  /** Spawns one service (not waiting for it to be healthy). */
  start(svc: LabService): ChildProcess {
    const args = [
      ...SERVICE_NODE_FLAGS,
      'dist/main.js',
      svc.role,
      '--port',
      String(svc.port + this.offset),
      ...svc.args(this),
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...this.env, ADMIN_TOKEN: this.adminToken, HOST: '127.0.0.1' },
      stdio: [
        'ignore',
        this.#options.output ? 'pipe' : 'ignore',
        this.#options.output ? 'pipe' : 'ignore',
        ...(svc.controlsNodes ? (['ipc'] as const) : []),
      ],
      detached: this.#options.detached ?? false,
    });
    if (svc.controlsNodes) child.on('message', (message: LabRequest) => void this.#control(child, message));
    this.#relay(svc.name, child);
    this.#watch(svc.name, child);
    return child;
  }

  async waitHealthy(svc: LabService, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
    const url = `${this.url(svc.name)}${svc.health}`;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `${svc.name} exited with ${child.signalCode ?? `code ${child.exitCode}`} while starting`,
        );
      try {
        const response = await fetch(url);
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`${svc.name} did not answer ${url} within ${timeoutMs / 1000} s`);
  }

  /** Starts every service, stage by stage, each stage once the previous one is healthy. */
  async startAll(): Promise<void> {
    const stages = [...new Set(SERVICES.map((s) => s.stage))].sort((a, b) => a - b);
    for (const stage of stages) {
      const group = SERVICES.filter((s) => s.stage === stage);
      await Promise.all(group.map((svc) => this.waitHealthy(svc, this.start(svc))));
    }
  }

  /** Starts a service that is not running (e.g. after `kill`) and waits until it is healthy. */
  async restart(name: string, timeoutMs = 20_000): Promise<void> {
    if (this.#children.has(name)) throw new Error(`${name} is already running`);
    const svc = service(name);
    await this.waitHealthy(svc, this.start(svc), timeoutMs);
  }

  /** Sends `signal` to a service and waits until it has exited; its exit is not unexpected. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const entry = this.#children.get(name);
    if (!entry) throw new Error(`${name} is not running`);
    this.#expected.add(name);
    entry.child.kill(signal);
    await entry.closed;
  }

  /**
   * Stops everything: SIGTERM, SIGKILL for what is left after `graceMs`.
   * @returns how many processes were stopped
   */
  async stop(graceMs = 12_000): Promise<number> {
    this.#stopping = true;
    const alive = [...this.#children.values()];
    for (const { child } of alive) child.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const { child } of this.#children.values()) child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(alive.map(({ closed }) => closed));
    clearTimeout(killer);
    return alive.length;
  }

  /** `--redis`: a local redis-server on a free port, watched like a service. @returns its URL */
  async startRedis(): Promise<string> {
    const free = createServer();
    free.listen(0, '127.0.0.1');
    await once(free, 'listening');
    const port = (free.address() as { port: number }).port;
    await new Promise((resolve) => free.close(resolve));
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const spawned = await Promise.race([
      once(child, 'spawn').then(() => true),
      once(child, 'error').then(() => false),
    ]);
    if (!spawned) {
      throw new Error(
        '--redis needs a redis-server on the PATH (apt-get install redis-server), or REDIS_URL pointing at one',
      );
    }
    this.#relay('redis', child);
    this.#watch('redis', child);
    const deadline = Date.now() + 10_000;
    while (await portIsFree(port)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('redis-server did not start');
      await sleep(50);
    }
    return `redis://127.0.0.1:${port}`;
  }
}

function service(name: string): LabService {
  const svc = SERVICES.find((s) => s.name === name);
  if (!svc) throw new Error(`no lab service named ${name}`);
  return svc;
}

// ---- the `npm run lab` CLI -------------------------------------------------------------

const COLORS = [36, 32, 33, 35, 34, 31];

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      'port-offset': { type: 'string', default: '0' },
      redis: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (flags.help) {
    process.stdout.write('usage: npm run lab [-- --port-offset N] [-- --redis]\n');
    process.exit(0);
  }
  const offset = Number(flags['port-offset']);
  if (!Number.isInteger(offset) || offset < 0 || offset > 50_000) {
    process.stderr.write(
      `lab: --port-offset must be an integer from 0 to 50000, got "${flags['port-offset']}"\n`,
    );
    process.exit(2);
  }

  const tty = process.stdout.isTTY;
  const names = [...SERVICES.map((s) => s.name), 'redis'];
  const width = Math.max(...SERVICES.map((s) => s.name.length));
  const prefix = (name: string) => {
    const label = name.padEnd(width);
    const index = names.indexOf(name);
    return tty ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m │ ` : `${label} │ `;
  };
  const lab = new LocalLab({
    offset,
    output: (name, line) => process.stdout.write(`${prefix(name)}${line}\n`),
    onUnexpectedExit: (name, how) => {
      process.stderr.write(`\nlab: ${name} exited (${how}); stopping the lab\n`);
      void stopAndExit(1);
    },
  });
  const stopAndExit = async (exitCode: number): Promise<never> => {
    const stopped = await lab.stop();
    process.stdout.write(`lab: stopped ${stopped} service(s)\n`);
    process.exit(exitCode);
  };

  try {
    const taken = await takenPorts(offset);
    if (taken.length > 0) {
      process.stderr.write(portsTakenMessage('lab', taken, 'npm run lab --'));
      process.exit(1);
    }

    // `on`, not `once`: Ctrl-C reaches this process twice when it runs under npm/tsx (from the
    // terminal's process group and relayed by tsx), and an unhandled second SIGINT would kill
    // it before its services have stopped.
    const onSignal = () => {
      if (!lab.stopping) void stopAndExit(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    if (flags.redis) {
      lab.env.RATE_LIMIT_STORE = 'redis';
      lab.env.REDIS_URL = process.env.REDIS_URL || (await lab.startRedis());
    }

    await lab.startAll();

    const lines = SERVICES.map((s) => `  ${s.name.padEnd(width)}  ${lab.url(s.name)}`);
    process.stdout.write(
      `\nlab: all ${SERVICES.length} services healthy\n${lines.join('\n')}\n` +
        (lab.env.REDIS_URL ? `  limiter store: redis at ${lab.env.REDIS_URL}\n` : '') +
        `  admin token: ${lab.adminToken}   (curl -H 'Authorization: Bearer ${lab.adminToken}' .../admin/config)\n` +
        'lab: Ctrl-C stops everything\n\n',
    );
  } catch (error) {
    process.stderr.write(`lab: ${(error as Error).message}\n`);
    await stopAndExit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
