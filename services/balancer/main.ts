/**
 * @module
 * `node dist/main.js balancer [--port 8081] [--strategy least-connections] [--upstreams ...]`
 * With `WORKERS` > 1 the main thread only starts and supervises the workers
 * (`shared/workers.ts`), and each worker thread runs this same `run()`.
 */
import { loadConfig } from '../shared/config.js';
import { Drain } from '../shared/drain.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { startService } from '../shared/server.js';
import { startWorkers, workerThread } from '../shared/workers.js';
import { createBalancer } from './app.js';
import { balancerConfigShape, balancerConfigSources } from './config.js';
import { resolveUpstreams, watchDns } from './discovery.js';
import { startHealthChecks } from './health.js';

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(balancerConfigShape, { argv, env, sources: balancerConfigSources });
  const thread = workerThread();
  const log = createLogger('balancer', config.logLevel, undefined, thread?.logFields);
  if (!thread && config.workers > 1)
    return startWorkers({ ...config, entry: import.meta.url, argv, env, log });
  const metrics = createMetrics('balancer');

  let specs = config.upstreams;
  if (config.upstreamsDns) {
    try {
      specs = await resolveUpstreams(config.upstreamsDns);
    } catch (error) {
      // Start empty (503s) and keep resolving: in compose the nodes may start later.
      log.warn('dns_lookup_failed', { target: config.upstreamsDns, error });
      specs = [];
    }
  }
  const drain = new Drain();
  const balancer = createBalancer({ config, metrics, log, upstreams: specs, drain, workers: thread?.group });
  const stopChecks = startHealthChecks(balancer.upstreams, {
    path: config.healthPath,
    intervalMs: config.healthInterval,
    timeoutMs: config.healthTimeout,
  });
  const stopDns = config.upstreamsDns
    ? watchDns(config.upstreamsDns, config.dnsInterval, (next) => balancer.upstreams.replace(next), log)
    : () => {};

  log.info('starting', {
    strategy: config.strategy,
    upstreams: balancer.upstreams.all.map((u) => `${u.id}=${u.url}*${u.weight}`),
    dns: config.upstreamsDns ?? null,
    admin: config.adminToken ? 'on' : 'off',
  });
  return startService({
    ...config,
    ...thread?.listen,
    app: balancer.app,
    dataPlane: balancer.dataPlane,
    log,
    metrics,
    drain,
    onShutdown: async () => {
      stopChecks();
      stopDns();
      await balancer.upstreams.close();
    },
  });
}
