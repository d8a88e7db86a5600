/**
 * @module
 * The algorithm registry: name → definition. The file name of each algorithm is its key;
 * everything else about it (its name in `AlgorithmName`, the memory store's codec, the
 * Redis store's script) is derived from this table.
 */
import type { Algorithm, AlgorithmDefinition, AlgorithmName, AlgorithmParams } from '../types.js';
import { fixedWindow } from './fixed-window.js';
import { gcra } from './gcra.js';
import { algorithmId, checkParams } from './params.js';
import { slidingWindowCounter } from './sliding-window-counter.js';
import { slidingWindowLog } from './sliding-window-log.js';
import { tokenBucket } from './token-bucket.js';

export const algorithms = {
  'token-bucket': tokenBucket,
  'fixed-window': fixedWindow,
  'sliding-window-log': slidingWindowLog,
  'sliding-window-counter': slidingWindowCounter,
  gcra,
};

/** Every algorithm name, for validation messages and the policy schema. */
export const ALGORITHM_NAMES = Object.keys(algorithms) as [AlgorithmName, ...AlgorithmName[]];

/**
 * `definition` bound to `params` under `name`: the parameters checked once, here, for
 * every algorithm.
 * @throws {Error} naming a bad parameter
 * @example
 * bindAlgorithm('fixed-window', myFixedWindow, { limit: 100, windowMs: 60_000, burst: 100 });
 */
export function bindAlgorithm<State>(
  name: AlgorithmName,
  definition: AlgorithmDefinition<State>,
  params: AlgorithmParams,
): Algorithm<State> {
  const p = checkParams(name, params);
  const { maxCost, init, consume, idleAt } = definition.create(p);
  // Field by field, not a spread: every algorithm object has the same shape.
  return { name, params: p, id: algorithmId(name, p), maxCost, init, consume, idleAt };
}

/**
 * `derive` applied to every registered definition: a table by name (how the stores build
 * their codecs and scripts from the registry).
 */
export function mapAlgorithms<T>(
  derive: (definition: AlgorithmDefinition<unknown>, name: AlgorithmName) => T,
): Record<AlgorithmName, T> {
  return Object.fromEntries(
    ALGORITHM_NAMES.map((name) => [name, derive(algorithms[name] as AlgorithmDefinition<unknown>, name)]),
  ) as Record<AlgorithmName, T>;
}

/**
 * @throws {Error} on an unknown name (listing the known ones) or a bad parameter.
 * @example
 * createAlgorithm('fixed-window', { limit: 100, windowMs: 60_000, burst: 100 });
 */
export function createAlgorithm(name: string, params: AlgorithmParams): Algorithm {
  if (!Object.hasOwn(algorithms, name))
    throw new Error(`unknown algorithm "${name}" (known: ${ALGORITHM_NAMES.join(', ')})`);
  const known = name as AlgorithmName;
  return bindAlgorithm(known, algorithms[known] as AlgorithmDefinition<unknown>, params);
}
