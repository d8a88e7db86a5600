/**
 * Records real limiter responses into `loadtests/fixtures/limiter-responses.json`, the
 * fixture the k6 field checks are unit-tested on (`loadtests/ratelimit-fields.test.ts`).
 *
 *   npm run lab                                   # or any limiter with config/policies.yaml
 *   npx tsx tools/traffic/record-ratelimit-fixture.ts [--target http://127.0.0.1:8080]
 *
 * For each client of config/policies.yaml (one per algorithm, plus the exempt partner) it
 * sends requests until it has seen an admitted answer and a 429, and keeps the status and
 * the rate-limit fields exactly as the limiter sent them (names lowercased by undici).
 */
import { writeFileSync } from 'node:fs';
import { urlFlag } from './cli.js';

interface Recorded {
  label: string;
  status: number;
  headers: Record<string, string>;
}

const KEPT = ['ratelimit-policy', 'ratelimit', 'retry-after', 'content-type', 'x-ratelimit-remaining'];

const CLIENTS: { label: string; key?: string; max: number }[] = [
  { label: 'default (token-bucket)', key: 'fixture-someone', max: 40 },
  { label: 'good-user (token-bucket)', key: 'good-user', max: 60 },
  { label: 'internal-config (fixed-window)', key: 'internal-config', max: 2_100 },
  { label: 'strict-client (sliding-window-log)', key: 'strict-client', max: 120 },
  { label: 'mobile-app (gcra)', key: 'lab-mobile-app-key-7f3a', max: 80 },
  { label: 'partner (exempt)', key: 'partner', max: 3 },
  { label: 'anonymous (default, by address)', max: 40 },
];

async function record(target: string): Promise<Recorded[]> {
  const out: Recorded[] = [];
  for (const client of CLIENTS) {
    let admitted = false;
    let rejected = false;
    for (let i = 0; i < client.max && !(admitted && rejected); i++) {
      const response = await fetch(`${target}/health`, {
        headers: client.key ? { 'x-api-key': client.key } : {},
      });
      await response.arrayBuffer();
      const isReject = response.status === 429;
      if ((isReject && rejected) || (!isReject && admitted)) continue;
      if (isReject) rejected = true;
      else admitted = true;
      const headers: Record<string, string> = {};
      for (const name of KEPT) {
        const value = response.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      out.push({ label: `${client.label} ${response.status}`, status: response.status, headers });
    }
  }
  return out;
}

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const target = urlFlag('target', flag('target'), 'http://127.0.0.1:8080');
const file = new URL('../../loadtests/fixtures/limiter-responses.json', import.meta.url);
const responses = await record(target);
writeFileSync(
  file,
  `${JSON.stringify({ $comment: 'recorded by tools/traffic/record-ratelimit-fixture.ts', recordedAt: new Date().toISOString(), responses }, null, 2)}\n`,
);
process.stdout.write(`${responses.length} responses → ${file.pathname}\n`);
