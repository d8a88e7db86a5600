/**
 * @module
 * The store registry: `RATE_LIMIT_STORE` → factory. The memory store is here (over a
 * `sharedTable` when the limiter runs several worker threads, `stores/shared.ts`); the
 * Redis store (`stores/redis.ts`, behind the circuit of `stores/circuit.ts`) is `redis`.
 */
import type { Logger } from '../../shared/logger.js';
import type { LimiterConfig } from '../config.js';
import type { Store } from '../types.js';
import { MemoryStore } from './memory.js';
import { SharedStore, type SharedTable } from './shared.js';

export interface StoreContext {
  config: LimiterConfig;
  log: Logger;
  /** The memory store's table shared by the limiter's worker threads (absent: one thread). */
  sharedTable?: SharedTable;
}

export type StoreFactory = (context: StoreContext) => Store | Promise<Store>;

export const stores: Partial<Record<LimiterConfig['rateLimitStore'], StoreFactory>> = {
  memory: ({ config, sharedTable }) =>
    sharedTable ? new SharedStore(sharedTable) : new MemoryStore({ maxKeys: config.rateLimitMaxKeys }),
  // Loaded on demand: a memory-store limiter never loads the Redis client.
  redis: async (context) => (await import('./redis-factory.js')).createRedisStore(context),
};

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
