/**
 * @module
 * Which fixed-window implementation `npm run challenge` checks.
 *
 * - By default, the one the limiter actually uses: the `fixed-window` entry of its
 *   algorithm registry (`services/limiter/algorithms/index.ts`). Register your own there
 *   (Strategy pattern: one line swaps it) and the challenge, `npm run lab` and the
 *   compose lab all use it.
 * - `CHALLENGE_IMPL=path/to/file.ts` (or `path#exportName`) checks any file without
 *   registering it: its only exported algorithm definition, its default export, or the
 *   named one.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixedWindow } from '../../services/limiter/algorithms/fixed-window.js';
import { algorithms, bindAlgorithm } from '../../services/limiter/algorithms/index.js';
import type { AlgorithmDefinition, AlgorithmFactory } from '../../services/limiter/types.js';

export interface Implementation {
  definition: AlgorithmDefinition<unknown>;
  /** The definition bound under the name `fixed-window`, as the limiter binds it. */
  factory: AlgorithmFactory;
  /** Where it came from, for the suite's title. */
  source: string;
}

/** Whether an export is an algorithm definition (`{ create, sharedState, redis }`). */
const isDefinition = (value: unknown): value is AlgorithmDefinition<unknown> =>
  typeof (value as AlgorithmDefinition<unknown> | undefined)?.create === 'function';

export async function loadImplementation(
  spec = process.env.CHALLENGE_IMPL,
  cwd = process.cwd(),
): Promise<Implementation> {
  if (!spec) {
    const registered = algorithms['fixed-window'] as AlgorithmDefinition<unknown>;
    const whose = registered === fixedWindow ? 'the reference, algorithms/fixed-window.ts' : 'your own';
    return implementation(registered, `the limiter's registry entry "fixed-window" (${whose})`);
  }
  const [file = '', exportName] = spec.split('#');
  const module = (await import(pathToFileURL(resolve(cwd, file)).href)) as Record<string, unknown>;
  if (exportName) {
    const named = module[exportName];
    if (!isDefinition(named)) throw new Error(`${file} exports no algorithm definition "${exportName}"`);
    return implementation(named, `${file}#${exportName}`);
  }
  if (isDefinition(module.default)) return implementation(module.default, file);
  const definitions = Object.entries(module).filter(([, v]) => isDefinition(v));
  if (definitions.length !== 1) {
    throw new Error(
      `${file} exports ${definitions.length} algorithm definitions (${definitions.map(([k]) => k).join(', ')}); name one: CHALLENGE_IMPL=${file}#name`,
    );
  }
  const [name, definition] = definitions[0] as [string, AlgorithmDefinition<unknown>];
  return implementation(definition, `${file}#${name}`);
}

function implementation(definition: AlgorithmDefinition<unknown>, source: string): Implementation {
  return { definition, factory: (params) => bindAlgorithm('fixed-window', definition, params), source };
}
