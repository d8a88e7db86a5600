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
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

interface LabService {
  name: string;
  role: string;
  port: number;
  /** Flags after `--port`, e.g. the node's id. */
  args: (lab: LabContext) => string[];
  /** Path that answers 200 once the service is ready. */
  health: string;
  /** Started after every service of a lower stage is healthy. */
  stage: number;
}

interface LabContext {
  offset: number;
  /** Port of a service by name, offset applied. */
  port(name: string): number;
}

/** The local lab, in DESIGN.md's ports. */
const SERVICES: LabService[] = [
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
];

const COLORS = [36, 32, 33, 35, 34, 31];

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

const adminToken = process.env.ADMIN_TOKEN || 'lab-admin';
/** Environment for every service (the limiter's store with `--redis`). */
const labEnv: Record<string, string> = {};
const context: LabContext = {
  offset,
  port(name) {
    const service = SERVICES.find((s) => s.name === name);
    if (!service) throw new Error(`no lab service named ${name}`);
    return service.port + offset;
  },
};
const tty = process.stdout.isTTY;
const width = Math.max(...SERVICES.map((s) => s.name.length));
/** Running children and a promise settled once each has exited and its output is relayed. */
const children = new Map<string, { child: ChildProcess; closed: Promise<unknown> }>();
let stopping = false;

function prefix(name: string, index: number) {
  const label = name.padEnd(width);
  return tty ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m │ ` : `${label} │ `;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitHealthy(service: LabService, child: ChildProcess, timeoutMs = 20_000) {
  const url = `http://127.0.0.1:${service.port + offset}${service.health}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${service.name} exited with code ${child.exitCode} while starting`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${service.name} did not answer ${url} within ${timeoutMs / 1000} s`);
}

function start(service: LabService, index: number): ChildProcess {
  const args = [
    'dist/main.js',
    service.role,
    '--port',
    String(service.port + offset),
    ...service.args(context),
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...labEnv, ADMIN_TOKEN: adminToken, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const label = prefix(service.name, index);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream)
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${label}${line}\n`));
  }
  // 'close' (not 'exit'): the child's last log lines have been relayed by then.
  const closed = once(child, 'close');
  child.once('close', (code, signal) => {
    children.delete(service.name);
    if (!stopping) {
      process.stderr.write(`\nlab: ${service.name} exited (${signal ?? `code ${code}`}); stopping the lab\n`);
      void stopAll(1);
    }
  });
  children.set(service.name, { child, closed });
  return child;
}

async function stopAll(exitCode: number): Promise<never> {
  stopping = true;
  const alive = [...children.values()];
  for (const { child } of alive) child.kill('SIGTERM');
  const killer = setTimeout(() => {
    for (const { child } of children.values()) child.kill('SIGKILL');
  }, 12_000);
  await Promise.all(alive.map(({ closed }) => closed));
  clearTimeout(killer);
  process.stdout.write(`lab: stopped ${alive.length} service(s)\n`);
  process.exit(exitCode);
}

/** `--redis`: REDIS_URL, or a local redis-server on a free port, watched like a service. */
async function startRedis(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
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
  const label = prefix('redis', SERVICES.length);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream)
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${label}${line}\n`));
  }
  const closed = once(child, 'close');
  child.once('close', (code, signal) => {
    children.delete('redis');
    if (!stopping) {
      process.stderr.write(`\nlab: redis exited (${signal ?? `code ${code}`}); stopping the lab\n`);
      void stopAll(1);
    }
  });
  children.set('redis', { child, closed });
  const deadline = Date.now() + 10_000;
  while (await portIsFree(port)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('redis-server did not start');
    await sleep(50);
  }
  return `redis://127.0.0.1:${port}`;
}

async function main() {
  const taken: string[] = [];
  for (const service of SERVICES) {
    if (!(await portIsFree(service.port + offset))) taken.push(`${service.port + offset} (${service.name})`);
  }
  if (taken.length > 0) {
    process.stderr.write(
      `lab: port(s) already in use: ${taken.join(', ')}.\n` +
        '     Another lab may be running (stop it with Ctrl-C, or `make down` for the compose lab),\n' +
        '     or start this one elsewhere with `npm run lab -- --port-offset 100`.\n',
    );
    process.exit(1);
  }

  // `on`, not `once`: Ctrl-C reaches this process twice when it runs under npm/tsx (from the
  // terminal's process group and relayed by tsx), and an unhandled second SIGINT would kill
  // it before its services have stopped.
  const onSignal = () => {
    if (!stopping) void stopAll(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (flags.redis) {
    labEnv.RATE_LIMIT_STORE = 'redis';
    labEnv.REDIS_URL = await startRedis();
  }

  const stages = [...new Set(SERVICES.map((s) => s.stage))].sort((a, b) => a - b);
  for (const stage of stages) {
    const group = SERVICES.filter((s) => s.stage === stage);
    await Promise.all(
      group.map((service) => waitHealthy(service, start(service, SERVICES.indexOf(service)))),
    );
  }

  const lines = SERVICES.map((s) => `  ${s.name.padEnd(width)}  http://127.0.0.1:${s.port + offset}`);
  process.stdout.write(
    `\nlab: all ${SERVICES.length} services healthy\n${lines.join('\n')}\n` +
      (labEnv.REDIS_URL ? `  limiter store: redis at ${labEnv.REDIS_URL}\n` : '') +
      `  admin token: ${adminToken}   (curl -H 'Authorization: Bearer ${adminToken}' .../admin/config)\n` +
      'lab: Ctrl-C stops everything\n\n',
  );
}

main().catch((error: Error) => {
  process.stderr.write(`lab: ${error.message}\n`);
  void stopAll(1);
});
