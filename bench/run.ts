/**
 * @module
 * `npm run bench [-- --quick] [-- --case NAME]`: builds `dist/`, runs each case in
 * `bench/cases/` (or the one named), prints a summary and writes JSON to
 * `bench/results/<case>-<time>.json`. Cases start what they measure on 127.0.0.1 and
 * stop it afterwards; a comparison whose tool is missing is skipped with a message.
 *
 * Numbers from a shared 2-core machine are noisy: read the paired same-round ratios,
 * not the absolute req/s.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopAll } from './lib/processes.js';
import type { BenchCase, BenchContext, BenchSettings } from './lib/types.js';

const here = fileURLToPath(new URL('.', import.meta.url));

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    case: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

const caseFiles = readdirSync(join(here, 'cases')).filter(
  (f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'),
);
const available = caseFiles.map((f) => f.replace(/\.(ts|js)$/, ''));

if (values.help) {
  process.stdout.write(
    `usage: npm run bench -- [--quick] [--case ${available.join('|')}] [--rounds N] [--duration S] [--connections N] [--only target,target]\n`,
  );
  process.exit(0);
}
if (values.case && !available.includes(values.case)) {
  process.stderr.write(`bench: unknown case "${values.case}" (available: ${available.join(', ')})\n`);
  process.exit(2);
}

const positiveInt = (name: string, text: string | undefined, fallback: number) => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: --${name} must be a positive integer, got "${text}"\n`);
    process.exit(2);
  }
  return n;
};
const settings: BenchSettings = {
  quick: values.quick,
  rounds: positiveInt('rounds', values.rounds, values.quick ? 2 : 5),
  durationS: positiveInt('duration', values.duration, values.quick ? 3 : 8),
  warmupS: values.quick ? 1 : 5,
  connections: positiveInt('connections', values.connections, 50),
  only: values.only ? values.only.split(',').map((t) => t.trim()) : [],
};

process.stdout.write('bench: building dist/ ...\n');
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
let failed = false;

for (const name of values.case ? [values.case] : available) {
  const file = caseFiles[available.indexOf(name)] as string;
  const benchCase = (await import(join(here, 'cases', file))).default as BenchCase;
  const tmpDir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const cleanups: (() => void | Promise<void>)[] = [];
  const ctx: BenchContext = {
    settings,
    tmpDir,
    log: (line) => process.stdout.write(`[${name}] ${line}\n`),
    defer: (cleanup) => cleanups.push(cleanup),
  };
  process.stdout.write(`\n== ${name}: ${benchCase.description}\n`);
  process.stdout.write(
    `   ${settings.rounds} rounds × ${settings.durationS}s, ${settings.connections} connections${settings.quick ? ' (--quick: a smoke run, not a measurement)' : ''}\n`,
  );
  const started = new Date();
  try {
    const { result, summary } = await benchCase.run(ctx);
    const out = join(resultsDir, `${name}-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      out,
      `${JSON.stringify({ case: name, started: started.toISOString(), settings, node: process.version, result }, null, 2)}\n`,
    );
    process.stdout.write(`\n${summary}\n\nwritten: ${out}\n`);
  } catch (error) {
    failed = true;
    process.stderr.write(`[${name}] failed: ${(error as Error).stack ?? error}\n`);
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
process.exit(failed ? 1 : 0);
