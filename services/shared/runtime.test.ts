import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from './runtime.js';

const run = promisify(execFile);

/**
 * A child process keeps ~60 MB alive and churns garbage that survives a few scavenges (the
 * way a proxy's in-flight requests do), then prints its peak committed heap and what a
 * full GC leaves alive. Node 24 runs `runtime.ts` itself (type stripping).
 */
const CHURN = `
import { getHeapStatistics } from 'node:v8';
const runtime = await import(process.argv[1]);
if (process.argv[2] === 'fixed') runtime.fixOldGenerationGrowth();
const live = Array.from({ length: 400_000 }, (_, i) => ({ i, text: 'live-' + i, list: [i] }));
let inFlight = [];
let peak = 0;
for (let round = 0; round < 3000; round++) {
  for (let i = 0; i < 2000; i++) inFlight.push({ i, text: 'request-' + round + '-' + i });
  if (inFlight.length > 40_000) inFlight = [];
  peak = Math.max(peak, getHeapStatistics().total_heap_size);
}
inFlight = [];
globalThis.gc();
console.log(JSON.stringify({ peak, live: getHeapStatistics().used_heap_size, kept: live.length }));
`;

async function churn(mode: 'fixed' | 'default') {
  const runtime = new URL('./runtime.ts', import.meta.url).href;
  const { stdout } = await run(
    process.execPath,
    [
      ...SERVICE_NODE_FLAGS,
      '--expose-gc',
      '--no-warnings',
      '--input-type=module',
      '-e',
      CHURN,
      runtime,
      mode,
    ],
    { timeout: 30_000 },
  );
  return JSON.parse(stdout) as { peak: number; live: number };
}

describe('the services runtime flags', () => {
  it('the image starts every service with the same flags as the local lab and the tests', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const options = /^\s*NODE_OPTIONS=(\S+)/m.exec(dockerfile)?.[1];
    expect(options?.split(',').join(' ')).toBe(SERVICE_NODE_FLAGS.join(' '));
  });

  it('fixOldGenerationGrowth keeps the heap within 3× what stays alive under churn', async () => {
    // With V8's own factor this heap reaches ~5× its live size here (315 MB for 66 MB; 124–134 MB with it).
    const { peak, live } = await churn('fixed');
    expect(peak).toBeLessThan(3 * live);
  }, 40_000);
});
