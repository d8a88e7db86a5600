/**
 * @module
 * The strategy registry: name → factory. The file name of each strategy is its key, the
 * value `LB_STRATEGY` and `PUT /admin/config {"strategy": ...}` accept.
 */
import { consistentHash } from './consistent-hash.js';
import { leastConnections } from './least-connections.js';
import { peakEwma } from './peak-ewma.js';
import { powerOfTwo } from './power-of-two.js';
import { random } from './random.js';
import { roundRobin } from './round-robin.js';
import type { Strategy, StrategyDeps, StrategyFactory, StrategySettings } from './types.js';
import { weightedRoundRobin } from './weighted-round-robin.js';

export const strategies = {
  'round-robin': roundRobin,
  'weighted-round-robin': weightedRoundRobin,
  random,
  'least-connections': leastConnections,
  'power-of-two': powerOfTwo,
  'peak-ewma': peakEwma,
  'consistent-hash': consistentHash,
} satisfies Record<string, StrategyFactory>;

export type StrategyName = keyof typeof strategies;

export const STRATEGY_NAMES = Object.keys(strategies) as [StrategyName, ...StrategyName[]];

/** @throws {Error} for an unknown name (config validation lists the valid ones first). */
export function createStrategy(
  name: StrategyName,
  deps: StrategyDeps,
  settings: StrategySettings = { hashLoadFactor: 0 },
): Strategy {
  const factory: StrategyFactory | undefined = strategies[name];
  if (!factory) throw new Error(`unknown strategy "${name}" (known: ${STRATEGY_NAMES.join(', ')})`);
  return factory(deps, settings);
}
