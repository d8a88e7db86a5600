/**
 * @module
 * Runs wrk and parses its report (`--latency` percentiles, errors, req/s).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  raw: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latency(text: string, percent: string): number {
  const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  return match ? Number(match[1]) * (UNIT_MS[match[2] as string] ?? 1) : Number.NaN;
}

export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const total = /(\d+) requests in/.exec(text);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requestsPerSecond: rps ? Number(rps[1]) : 0,
    requests: total ? Number(total[1]) : 0,
    p50Ms: latency(text, '50'),
    p90Ms: latency(text, '90'),
    p99Ms: latency(text, '99'),
    errors: (non2xx ? Number(non2xx[1]) : 0) + socketErrors,
    raw: text,
  };
}

/** `wrk -t1 -c<connections> -d<seconds>s --latency <url>` */
export async function wrk(url: string, { seconds, connections }: { seconds: number; connections: number }) {
  const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], {
    timeout: (seconds + 30) * 1000,
  });
  return parseWrk(stdout);
}
