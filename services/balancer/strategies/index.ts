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
import type { Strategy, StrategyDeps } from './types.js';
import { weightedRoundRobin } from './weighted-round-robin.js';

/** Settings some strategies read; each ignores the rest. */
export interface StrategySettings {
  /** consistent-hash bounded load factor c (0 = off). */
  hashLoadFactor: number;
}

export type RegisteredFactory = (deps: StrategyDeps, settings: StrategySettings) => Strategy;

export const strategies = {
  'round-robin': () => roundRobin(),
  'weighted-round-robin': () => weightedRoundRobin(),
  random: (deps) => random(deps),
  'least-connections': (deps) => leastConnections(deps),
  'power-of-two': (deps) => powerOfTwo(deps),
  'peak-ewma': (deps) => peakEwma(deps),
  'consistent-hash': (_deps, settings) => consistentHash({ loadFactor: settings.hashLoadFactor }),
} satisfies Record<string, RegisteredFactory>;

export type StrategyName = keyof typeof strategies;

export const STRATEGY_NAMES = Object.keys(strategies) as [StrategyName, ...StrategyName[]];

/** @throws {Error} for an unknown name (config validation lists the valid ones first). */
export function createStrategy(
  name: StrategyName,
  deps: StrategyDeps,
  settings: StrategySettings = { hashLoadFactor: 0 },
): Strategy {
  const factory: RegisteredFactory | undefined = strategies[name];
  if (!factory) throw new Error(`unknown strategy "${name}" (known: ${STRATEGY_NAMES.join(', ')})`);
  return factory(deps, settings);
}
