/**
 * @module
 * The end-of-run list of suites skipped for a missing component (tests/helpers/requires.ts
 * appends them to the file this setup names), so a laptop run that passed says what it did
 * not test and how to install it. CI skips nothing, so CI prints nothing here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function requirementsSummary() {
  const dir = mkdtempSync(join(tmpdir(), 'lab-tests-skipped-'));
  const file = join(dir, 'skipped.jsonl');
  process.env.LAB_TESTS_SKIPPED_FILE = file;
  return () => {
    let lines: string[] = [];
    try {
      lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    } catch {}
    rmSync(dir, { recursive: true, force: true });
    if (lines.length === 0) return;
    const skipped = lines.map((line) => JSON.parse(line) as { suite: string; reason: string });
    process.stdout.write(
      `\nSkipped for a missing component (CI=true runs them; make setup installs them all):\n${skipped
        .map(({ suite, reason }) => `  - ${suite}: ${reason}`)
        .join('\n')}\n`,
    );
  };
}
