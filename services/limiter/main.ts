/**
 * @module
 * `node dist/main.js limiter [--port 8080] [--upstream http://127.0.0.1:8081]
 * [--rate-limit-policies config/policies.yaml] [--trusted-proxies 10.0.0.0/8] ...`
 * With `WORKERS` > 1 the main thread validates the config and policies, creates the memory
 * store's shared table and starts the workers (`shared/workers.ts`); each worker thread runs
 * this same `run()` on that table.
 */
import { ConfigError, loadConfig } from '../shared/config.js';
import { Drain } from '../shared/drain.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { startService } from '../shared/server.js';
import { startWorkers, workerThread } from '../shared/workers.js';
import { createLimiter } from './app.js';
import { limiterConfigShape } from './config.js';
import {
  compilePolicies,
  DEFAULT_POLICIES,
  loadPoliciesFile,
  PolicyError,
  unsupportedPolicies,
} from './policies.js';
import { createMemoryTable, createStore } from './stores/index.js';
import type { SharedTable } from './stores/shared.js';

/** What the primary hands every worker thread: the memory store's shared table (memory store only). */
interface LimiterWorkersData {
  table: SharedTable | undefined;
}

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(limiterConfigShape, { argv, env });
  const thread = workerThread<LimiterWorkersData>();
  const log = createLogger('limiter', config.logLevel, undefined, thread?.logFields);
  let policies: ReturnType<typeof compilePolicies>;
  try {
    policies = config.rateLimitPolicies
      ? loadPoliciesFile(config.rateLimitPolicies)
      : compilePolicies(DEFAULT_POLICIES, 'the built-in default');
  } catch (error) {
    if (error instanceof PolicyError)
      throw new ConfigError([`RATE_LIMIT_POLICIES (--rate-limit-policies): ${error.message}`]);
    throw error;
  }
  if (!thread && config.workers > 1) {
    // One table in shared memory for every worker, so a client's quota is one quota.
    const shared: LimiterWorkersData = {
      table:
        config.rateLimitStore === 'memory' ? createMemoryTable(config.rateLimitMaxKeys, policies) : undefined,
    };
    return startWorkers({ ...config, entry: import.meta.url, argv, env, log, shared });
  }
  let store: Awaited<ReturnType<typeof createStore>>;
  try {
    store = await createStore({ config, log, policies, sharedTable: thread?.shared.table });
  } catch (error) {
    throw new ConfigError([`RATE_LIMIT_STORE (--rate-limit-store): ${(error as Error).message}`]);
  }
  const unsupported = unsupportedPolicies(policies, store);
  if (unsupported.length > 0) {
    throw new ConfigError(
      unsupported.map((p) => `RATE_LIMIT_POLICIES (--rate-limit-policies): ${p.path}: ${p.message}`),
    );
  }
  const metrics = createMetrics('limiter');
  const drain = new Drain();
  const limiter = createLimiter({ config, policies, store, metrics, log, drain, workers: thread?.group });
  log.info('starting', {
    upstream: config.upstream,
    policies: config.rateLimitPolicies ?? '(built-in default)',
    default: policies.default.summary,
    clients: Object.fromEntries([...policies.byKey.values()].map((p) => [p.name, p.summary])),
    store: store.kind,
    fail_mode: config.rateLimitFailMode,
    trusted_proxies: config.trustedProxies.list || '(none)',
    admin: config.adminToken ? 'on' : 'off',
  });
  return startService({
    ...config,
    ...thread?.listen,
    app: limiter.app,
    dataPlane: limiter.dataPlane,
    log,
    metrics,
    drain,
    onShutdown: () => limiter.close(),
  });
}
