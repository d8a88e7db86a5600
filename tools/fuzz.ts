/**
 * @module
 * `npm run fuzz [-- --seconds 20] [--seed N] [--runs N] [file filters...]`: every fuzz
 * property of the suite (services/**\/*.fuzz.test.ts, tests/fuzz-*.test.ts), each run
 * for `--seconds` instead of the few cases `npm test` gives it, from one random seed
 * (printed first and last). Replay a run with `--seed N` (or `FUZZ_SEED=N`); a failure
 * prints the exact command for its property. The settings reach the tests through
 * FUZZ_SECONDS / FUZZ_SEED / FUZZ_RUNS / FUZZ_SUMMARY (tests/helpers/fuzz.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.FUZZ_SECONDS ?? '20' },
    seed: { type: 'string', default: process.env.FUZZ_SEED },
    runs: { type: 'string', default: process.env.FUZZ_RUNS },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});

if (values.help) {
  process.stdout.write(
    'usage: npm run fuzz [-- --seconds 20] [--seed N] [--runs N] [file filters...]\n' +
      '  --seconds  time budget per property (default 20)\n' +
      '  --seed     replay a run (default: random, printed)\n' +
      '  --runs     stop a property after this many cases (default: only the time budget)\n',
  );
  process.exit(0);
}

const seconds = Number(values.seconds);
if (!(seconds > 0)) {
  process.stderr.write(`fuzz: --seconds must be a positive number; got "${values.seconds}"\n`);
  process.exit(2);
}
const seed =
  values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number.parseInt(values.seed, 10);
if (!Number.isInteger(seed)) {
  process.stderr.write(`fuzz: --seed must be an integer; got "${values.seed}"\n`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
const summary = join(dir, 'summary.jsonl');
const filters = positionals.length > 0 ? positionals : ['.fuzz.test.ts', 'tests/fuzz-'];
process.stdout.write(
  `fuzz: seed ${seed}, ${seconds} s per property (replay: npm run fuzz -- --seed ${seed})\n`,
);

const started = Date.now();
const child = spawn('npx', ['vitest', 'run', ...filters], {
  stdio: 'inherit',
  env: {
    ...process.env,
    FUZZ_SECONDS: String(seconds),
    FUZZ_SEED: String(seed),
    FUZZ_SUMMARY: summary,
    ...(values.runs ? { FUZZ_RUNS: values.runs } : {}),
  },
});
const code = await new Promise<number>((resolve) =>
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
);

interface Line {
  name: string;
  cases: number;
  failed: boolean;
  ms: number;
}
let lines: Line[] = [];
try {
  lines = readFileSync(summary, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
} catch {
  // no property ran
}
rmSync(dir, { recursive: true, force: true });

const total = lines.reduce((n, l) => n + l.cases, 0);
const width = Math.max(8, ...lines.map((l) => l.name.length));
process.stdout.write('\nfuzz summary\n');
for (const l of lines.sort((a, b) => a.name.localeCompare(b.name))) {
  process.stdout.write(
    `  ${l.name.padEnd(width)}  ${String(l.cases).padStart(9)} cases  ${l.failed ? 'FAILED' : 'ok'}\n`,
  );
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stdout.write(
  `  ${'total'.padEnd(width)}  ${String(total).padStart(9)} cases in ${lines.length} properties, ` +
    `${lines.filter((l) => l.failed).length} failed, ${minutes} min, seed ${seed}\n`,
);
process.exit(code);
