/**
 * @module
 * The algorithm registry: name → factory. The file name of each algorithm is its key.
 */
import type { Algorithm, AlgorithmFactory, AlgorithmName, AlgorithmParams } from '../types.js';
import { fixedWindow } from './fixed-window.js';
import { gcra } from './gcra.js';
import { slidingWindowCounter } from './sliding-window-counter.js';
import { slidingWindowLog } from './sliding-window-log.js';
import { tokenBucket } from './token-bucket.js';

export const algorithms = {
  'token-bucket': tokenBucket,
  'fixed-window': fixedWindow,
  'sliding-window-log': slidingWindowLog,
  'sliding-window-counter': slidingWindowCounter,
  gcra,
} satisfies Record<AlgorithmName, AlgorithmFactory>;

/** Every algorithm name, for validation messages and the policy schema. */
export const ALGORITHM_NAMES = Object.keys(algorithms) as [AlgorithmName, ...AlgorithmName[]];

/**
 * @throws {Error} on an unknown name (listing the known ones) or a bad parameter.
 * @example
 * createAlgorithm('fixed-window', { limit: 100, windowMs: 60_000, burst: 100 });
 */
export function createAlgorithm(name: string, params: AlgorithmParams): Algorithm {
  const factory = (algorithms as Record<string, AlgorithmFactory>)[name];
  if (!factory) throw new Error(`unknown algorithm "${name}" (known: ${ALGORITHM_NAMES.join(', ')})`);
  return factory(params);
}
