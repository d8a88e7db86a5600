/**
 * @module
 * The store registry: `RATE_LIMIT_STORE` → factory. `memory` is the shared-memory table
 * (`stores/shared.ts`), with one worker thread or several: the same table, the same
 * decisions, the same bounds. `redis` (`stores/redis.ts`, behind the circuit of
 * `stores/circuit.ts`) is the store across processes and machines.
 */
import type { Logger } from '../../shared/logger.js';
import type { LimiterConfig } from '../config.js';
import type { PolicySet } from '../policies.js';
import type { Store } from '../types.js';
import { createSharedTable, DEFAULT_LOG_CAPACITY, SharedStore, type SharedTable } from './shared.js';
import { codecs } from './shared-codecs.js';

export interface StoreContext {
  config: LimiterConfig;
  log: Logger;
  /** The policies the limiter starts with (they size the memory store's sliding-log region). */
  policies: PolicySet;
  /** The memory store's table when the primary thread made it for several workers. */
  sharedTable?: SharedTable;
}

export type StoreFactory = (context: StoreContext) => Store | Promise<Store>;

export const stores: Partial<Record<LimiterConfig['rateLimitStore'], StoreFactory>> = {
  memory: ({ config, policies, sharedTable }) =>
    new SharedStore(sharedTable ?? createMemoryTable(config.rateLimitMaxKeys, policies)),
  // Loaded on demand: a memory-store limiter never loads the Redis client.
  redis: async (context) => (await import('./redis-factory.js')).createRedisStore(context),
};

/**
 * The memory store's table: `maxKeys` (`RATE_LIMIT_MAX_KEYS`), and a sliding-log region long
 * enough for every start-up policy (at least {@link DEFAULT_LOG_CAPACITY} entries, so a
 * reload can still bring a modest sliding-window log).
 */
export function createMemoryTable(maxKeys: number, policies: PolicySet): SharedTable {
  let logCapacity = DEFAULT_LOG_CAPACITY;
  for (const { algorithm } of [policies.default, ...policies.byKey.values()]) {
    if (algorithm) logCapacity = Math.max(logCapacity, codecs[algorithm.name].logEntries(algorithm.params));
  }
  return createSharedTable({ maxKeys, logCapacity });
}

/** @throws {Error} when the configured store is not available in this build. */
export async function createStore(context: StoreContext): Promise<Store> {
  const factory = stores[context.config.rateLimitStore];
  if (!factory) {
    throw new Error(
      `store "${context.config.rateLimitStore}" is not available (available: ${Object.keys(stores).join(', ')})`,
    );
  }
  return factory(context);
}
