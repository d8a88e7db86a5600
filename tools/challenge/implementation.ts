/**
 * @module
 * Which fixed-window implementation `npm run challenge` checks.
 *
 * - By default, the one the limiter actually uses: the `fixed-window` entry of its
 *   algorithm registry (`services/limiter/algorithms/index.ts`). Register your own there
 *   (Strategy pattern: one line swaps it) and the challenge, `npm run lab` and the
 *   compose lab all use it.
 * - `CHALLENGE_IMPL=path/to/file.ts` (or `path#exportName`) checks any file without
 *   registering it: its only exported function, its default export, or the named one.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { algorithms } from '../../services/limiter/algorithms/index.js';
import type { AlgorithmFactory } from '../../services/limiter/types.js';

export interface Implementation {
  factory: AlgorithmFactory;
  /** Where it came from, for the suite's title. */
  source: string;
}

export async function loadImplementation(
  spec = process.env.CHALLENGE_IMPL,
  cwd = process.cwd(),
): Promise<Implementation> {
  if (!spec) {
    return {
      factory: algorithms['fixed-window'],
      source: `the limiter's registry entry "fixed-window" (${algorithms['fixed-window'].name})`,
    };
  }
  const [file = '', exportName] = spec.split('#');
  const module = (await import(pathToFileURL(resolve(cwd, file)).href)) as Record<string, unknown>;
  if (exportName) {
    const named = module[exportName];
    if (typeof named !== 'function') throw new Error(`${file} has no exported function "${exportName}"`);
    return { factory: named as AlgorithmFactory, source: `${file}#${exportName}` };
  }
  if (typeof module.default === 'function')
    return { factory: module.default as AlgorithmFactory, source: file };
  const functions = Object.entries(module).filter(([, v]) => typeof v === 'function');
  if (functions.length !== 1) {
    throw new Error(
      `${file} exports ${functions.length} functions (${functions.map(([k]) => k).join(', ')}); name one: CHALLENGE_IMPL=${file}#name`,
    );
  }
  const [name, factory] = functions[0] as [string, AlgorithmFactory];
  return { factory, source: `${file}#${name}` };
}
