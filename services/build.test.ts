/**
 * What `npm run build` compiles into `dist/` (tsconfig.build.json) is exactly what runs
 * from it: every module reachable by imports from the entry points (`main.ts`, the worker
 * threads' `shared/worker-entry.ts`, and any `dist/….js` that bench/ or tests/ load
 * directly), and nothing only the tests or the tools use.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** `dist/x/y.js` named in the scripts of bench/ and tests/ (e.g. bench's bare forward proxy). */
function loadedFromDist(): string[] {
  const found = new Set<string>();
  for (const dir of ['bench', 'tests']) {
    for (const file of readdirSync(resolve(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (!/\.(ts|mjs|js)$/.test(file) || file.includes('node_modules')) continue;
      const text = readFileSync(resolve(root, dir, file), 'utf8');
      for (const [, module] of text.matchAll(/dist\/([\w/.-]+)\.js/g)) found.add(`services/${module}.ts`);
    }
  }
  return [...found];
}

const ENTRIES = ['services/main.ts', 'services/shared/worker-entry.ts', ...loadedFromDist()];

function buildFiles(): string[] {
  const path = resolve(root, 'tsconfig.build.json');
  const { config } = ts.readConfigFile(path, (file) => readFileSync(file, 'utf8'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root);
  return parsed.fileNames.map((file) => relative(root, file)).sort();
}

/** Every module the entries import, statically or with `import()`, relative specifiers only. */
function reachable(): string[] {
  const seen = new Set<string>();
  const pending = [...ENTRIES];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(resolve(root, file), 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      pending.push(relative(root, resolve(root, dirname(file), fileName.replace(/\.js$/, '.ts'))));
    }
  }
  return [...seen].sort();
}

describe('the build', () => {
  it('compiles the modules the services import, and no test-only module', () => {
    expect(buildFiles()).toEqual(reachable());
  });
});
