/**
 * The README's "Extending the lab" section names the files each kind of addition touches:
 * every path it lists exists (a `<name>` path: its folder does), so the list cannot drift
 * from the tree unnoticed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** The section's text, from its heading to the next `## `. */
function section(): string {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Extending the lab\n');
  expect(start, 'README.md has no "## Extending the lab" section').toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** Backticked repository paths: a folder and a file name with an extension. */
function listedPaths(text: string): string[] {
  return [...text.matchAll(/`([\w.-]+(?:\/[\w.<>-]+)+\.[a-z]+)`/g)].map((match) => match[1] as string);
}

describe('README: Extending the lab', () => {
  it('lists files for a strategy, an algorithm, a panel and an incident, and every one exists', () => {
    const text = section();
    for (const kind of [
      'A load-balancing strategy',
      'A rate-limiting algorithm',
      'A Grafana panel',
      'An incident',
    ])
      expect(text).toContain(`**${kind}**`);
    const paths = listedPaths(text);
    expect(paths.length).toBeGreaterThan(15);
    for (const path of paths) {
      const target = path.includes('<name>') ? dirname(path) : path;
      expect(existsSync(resolve(root, target)), `${path} (README "Extending the lab")`).toBe(true);
    }
  });
});
