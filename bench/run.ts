/**
 * @module
 * `npm run bench [-- --quick] [-- --case NAME]`: builds `dist/`, runs each case in
 * `bench/cases/` (or the one named), prints a summary and writes JSON to
 * `bench/results/<case>-<time>.json` (and, for a run of every case, all of them with
 * every summary in `bench/results/run-<time>.json`), each with the machine's cores,
 * load and program versions. Cases start what they measure on 127.0.0.1 and stop it
 * afterwards; a comparison whose tool is missing is skipped with a message.
 *
 * Durations: every case at once (the default run) keeps to ~5 minutes with 3 rounds of
 * 3 s and 2 s warm-ups; one case (`--case NAME`) gets 5 rounds of 8 s and 5 s warm-ups;
 * `--quick` is a smoke run (1 round of 1 s, about a minute for everything).
 * `dist/` is rebuilt first unless it is newer than every file under `services/`.
 * `--rounds` and `--duration` override either.
 *
 * Numbers from a shared 2-core machine are noisy: read the paired same-round ratios,
 * not the absolute req/s.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describe, machine } from './lib/machine.js';
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
// Quick: a smoke run. Every case: fits ~5 minutes. One case: a longer measurement.
const defaults = values.quick
  ? { rounds: 1, durationS: 1, warmupS: 1 }
  : values.case
    ? { rounds: 5, durationS: 8, warmupS: 5 }
    : { rounds: 3, durationS: 3, warmupS: 2 };
const settings: BenchSettings = {
  quick: values.quick,
  rounds: positiveInt('rounds', values.rounds, defaults.rounds),
  durationS: positiveInt('duration', values.duration, defaults.durationS),
  warmupS: defaults.warmupS,
  connections: positiveInt('connections', values.connections, 50),
  only: values.only ? values.only.split(',').map((t) => t.trim()) : [],
  oneCase: values.case !== undefined,
};

/** Newest modification time under `dir` (ms), 0 when it does not exist. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}
const root = join(here, '..');
const built = existsSync(join(root, 'dist', 'main.js')) ? newest(join(root, 'dist')) : 0;
if (
  built === 0 ||
  newest(join(root, 'services')) > built ||
  statSync(join(root, 'package.json')).mtimeMs > built
) {
  process.stdout.write('bench: building dist/ ...\n');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
} else {
  process.stdout.write('bench: dist/ is newer than services/: not rebuilt\n');
}

const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
let failed = false;
const runStarted = new Date();
const stamp = (d: Date) => d.toISOString().replace(/[:.]/g, '-');
const onMachine = machine();
process.stdout.write(`bench: ${describe(onMachine)}\n`);
const done: { case: string; file: string; summary: string; result?: object; seconds: number }[] = [];

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
    const out = join(resultsDir, `${name}-${stamp(started)}.json`);
    const seconds = Math.round((Date.now() - started.getTime()) / 1000);
    writeFileSync(
      out,
      `${JSON.stringify({ case: name, started: started.toISOString(), seconds, settings, machine: { ...onMachine, loadAverageAtEnd: loadavg() }, node: process.version, result }, null, 2)}\n`,
    );
    process.stdout.write(`\n${summary}\n\nwritten: ${out} (${seconds}s)\n`);
    done.push({ case: name, file: out, summary, result, seconds });
  } catch (error) {
    failed = true;
    done.push({ case: name, file: '', summary: `FAILED: ${(error as Error).message}`, seconds: 0 });
    process.stderr.write(`[${name}] failed: ${(error as Error).stack ?? error}\n`);
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

if (done.length > 1) {
  const seconds = Math.round((Date.now() - runStarted.getTime()) / 1000);
  const out = join(resultsDir, `run-${stamp(runStarted)}.json`);
  writeFileSync(
    out,
    `${JSON.stringify({ started: runStarted.toISOString(), seconds, settings, machine: { ...onMachine, loadAverageAtEnd: loadavg() }, cases: done }, null, 2)}\n`,
  );
  process.stdout.write(`\n==== every case (${seconds}s in all; ${describe(onMachine)})\n`);
  for (const c of done) process.stdout.write(`\n== ${c.case} (${c.seconds}s)\n${c.summary}\n`);
  process.stdout.write(`\nwritten: ${out}\n`);
}
process.exit(failed ? 1 : 0);
