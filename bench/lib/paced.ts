/**
 * @module
 * A client at a steady, bounded rate: wrk with `paced.lua` (see there for how the pacing
 * works and why it is not a closed loop). Reports what it sent, what came back 2xx and
 * the latency percentiles, p95 included.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./paced.lua', import.meta.url));

export interface PacedClient {
  /** Requests per second the client sends (a ceiling it keeps to). */
  rate: number;
  method: string;
  path: string;
  /** `X-API-Key`; none = identified by address. */
  apiKey?: string;
  body?: string;
  /** Connections to spread the requests over (enough that one is always free). */
  connections: number;
}

export interface PacedResult {
  /** Requests answered (any status). */
  requests: number;
  seconds: number;
  /** Answered requests per second: the rate actually achieved. */
  requestsPerSecond: number;
  /** 2xx answers. */
  ok: number;
  /** Non-2xx answers. */
  non2xx: number;
  /** Connect, read, write errors and timeouts (no answer at all). */
  socketErrors: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function parsePaced(stdout: string): PacedResult {
  const line = /^PACED (\{.*\})$/m.exec(stdout);
  if (!line) throw new Error(`wrk paced.lua printed no summary:\n${stdout}`);
  const r = JSON.parse(line[1] as string) as Record<string, number>;
  const n = (k: string) => r[k] as number;
  const seconds = n('durationUs') / 1e6;
  return {
    requests: n('requests'),
    seconds,
    requestsPerSecond: seconds > 0 ? n('requests') / seconds : 0,
    ok: n('requests') - n('non2xx'),
    non2xx: n('non2xx'),
    socketErrors: n('connect') + n('read') + n('write') + n('timeout'),
    p50Ms: n('p50Us') / 1000,
    p90Ms: n('p90Us') / 1000,
    p95Ms: n('p95Us') / 1000,
    p99Ms: n('p99Us') / 1000,
    maxMs: n('maxUs') / 1000,
  };
}

/** Runs `client` against `baseUrl` for `seconds` (one wrk thread, 5 s request timeout). */
export async function paced(baseUrl: string, client: PacedClient, seconds: number): Promise<PacedResult> {
  const { stdout } = await run(
    'wrk',
    [
      '-t1',
      `-c${client.connections}`,
      `-d${seconds}s`,
      '--timeout',
      '5s',
      '-s',
      SCRIPT,
      baseUrl,
      '--',
      String(client.rate),
      client.method,
      client.path,
      client.apiKey ?? '',
      client.body ?? '',
    ],
    { timeout: (seconds + 30) * 1000 },
  );
  return parsePaced(stdout);
}
