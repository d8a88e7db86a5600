/**
 * @module
 * Helpers for the hostile-input tests: exact bytes on a fresh socket (what an HTTP client
 * refuses to send), and the "still serving" check run after every hostile case.
 */
import { connect } from 'node:net';
import { expect } from 'vitest';
import type { ServiceProcess } from './processes.js';

export interface RawExchange {
  /** Every status line the server sent, in order (pipelined answers give several). */
  statuses: number[];
  /** Everything the server sent, latin1. */
  text: string;
  /** The body of the first answer (after its blank line), up to the next status line. */
  firstBody: string;
  /** Whether the server closed the connection (false: we gave up after `timeoutMs`). */
  closed: boolean;
  /** Milliseconds until the server closed (or we gave up). */
  ms: number;
}

/**
 * Writes `data` on a new connection (all at once, or `drip` bytes every `dripMs`) and
 * collects the answer until the server closes the connection or `timeoutMs` passes.
 */
export function sendRaw(
  port: number,
  data: string | Buffer,
  { timeoutMs = 10_000, dripMs = 0 }: { timeoutMs?: number; dripMs?: number } = {},
): Promise<RawExchange> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const start = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let drip: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      clearInterval(drip);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      const bodyStart = text.indexOf('\r\n\r\n');
      const rest = bodyStart === -1 ? '' : text.slice(bodyStart + 4);
      const next = rest.search(/HTTP\/1\.[01] \d{3} /);
      resolve({
        statuses,
        text,
        firstBody: next === -1 ? rest : rest.slice(0, next),
        closed,
        ms: Date.now() - start,
      });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish(false);
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset after the answer is the server's right
    socket.on('close', () => finish(true));
    if (dripMs <= 0) {
      socket.write(bytes);
      return;
    }
    let at = 0;
    drip = setInterval(() => {
      if (at >= bytes.length || !socket.writable) return;
      socket.write(bytes.subarray(at, at + 1));
      at++;
    }, dripMs);
  });
}

/** A service under test: its process, and the path that tells it is alive. */
export interface Target {
  name: string;
  service: ServiceProcess;
  health: string;
}

/**
 * After a hostile case: the service answers its health path, and a legitimate request
 * (store a key, read it back) succeeds through it, each on a new connection.
 */
export async function expectStillServing(target: Target, label: string): Promise<void> {
  const health = await fetch(`${target.service.url}${target.health}`, { headers: { connection: 'close' } });
  await health.arrayBuffer();
  expect(health.status, `${target.name} ${target.health} after ${label}`).toBe(200);
  expect(target.service.proc.exitCode, `${target.name} exited after ${label}`).toBeNull();
  const key = `legit-${target.name}-${Math.random().toString(36).slice(2)}`;
  const stored = await fetch(`${target.service.url}/data`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ key, value: 'fine' }),
  });
  expect(stored.status, `${target.name} POST /data after ${label}: ${await stored.text()}`).toBe(200);
  const read = await fetch(`${target.service.url}/data/${key}`, { headers: { connection: 'close' } });
  expect(read.status, `${target.name} GET /data/${key} after ${label}`).toBe(200);
  expect(await read.json()).toMatchObject({ key, value: 'fine' });
}

/** The node's `/stats` (read straight from the node, never through a proxy). */
export async function nodeStats(node: ServiceProcess): Promise<{
  active_requests: number;
  requests_total: number;
  keys: number;
}> {
  const response = await fetch(`${node.url}/stats`, { headers: { connection: 'close' } });
  return (await response.json()) as { active_requests: number; requests_total: number; keys: number };
}

/** One value of a Prometheus text exposition (the first sample whose line starts with `name`). */
export function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name) && /[\s{]/.test(l.charAt(name.length)));
  if (line === undefined) throw new Error(`no ${name} in the metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
