/**
 * @module
 * `node dist/main.js limiter [--port 8080] [--upstream http://127.0.0.1:8081]
 * [--rate-limit-policies config/policies.yaml] [--trusted-proxies 10.0.0.0/8] ...`
 */
import { ConfigError, loadConfig } from '../shared/config.js';
import { Drain } from '../shared/drain.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { startService } from '../shared/server.js';
import { createLimiter } from './app.js';
import { limiterConfigShape } from './config.js';
import { compilePolicies, DEFAULT_POLICIES, loadPoliciesFile, PolicyError } from './policies.js';
import { createStore } from './stores/index.js';

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(limiterConfigShape, { argv, env });
  const log = createLogger('limiter', config.logLevel);
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
  let store: Awaited<ReturnType<typeof createStore>>;
  try {
    store = await createStore({ config, log });
  } catch (error) {
    throw new ConfigError([`RATE_LIMIT_STORE (--rate-limit-store): ${(error as Error).message}`]);
  }
  const metrics = createMetrics('limiter');
  const drain = new Drain();
  const limiter = createLimiter({ config, policies, store, metrics, log, drain });
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
    app: limiter.app,
    dataPlane: limiter.dataPlane,
    log,
    metrics,
    drain,
    onShutdown: () => limiter.close(),
  });
}
