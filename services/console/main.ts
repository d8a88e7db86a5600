/**
 * @module
 * `node dist/main.js console [--port 8090] [--limiter-url URL] [--balancer-url URL] [--node-urls ...]`
 * One process, one event loop: the console is a page and a poller, not a data plane.
 */
import { loadConfig } from '../shared/config.js';
import { Drain } from '../shared/drain.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { startService } from '../shared/server.js';
import { createConsoleApp } from './app.js';
import { consoleConfigShape } from './config.js';
import { LabApi } from './lab-api.js';
import { labLink } from './lab-link.js';
import { SnapshotHub } from './live.js';
import { ConsoleTraffic } from './traffic.js';

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(consoleConfigShape, { argv, env });
  const log = createLogger('console', config.logLevel);
  const metrics = createMetrics('console');
  const api = new LabApi(config);
  const lab = labLink();
  const traffic = new ConsoleTraffic({ target: config.limiterUrl, log });
  const hub = new SnapshotHub({
    intervalMs: config.pollInterval,
    onError: (error) => log.error('snapshot_failed', { error }),
    read: async () => ({
      ...(await api.readAll()),
      at: performance.now(),
      traffic: traffic.status(),
      lab: lab.reason === undefined ? { canKill: lab.canKill } : { canKill: lab.canKill, reason: lab.reason },
    }),
  });
  // Open event streams would hold the shutdown until its deadline: they end at the signal.
  let close: () => void = () => {};
  const closing = new Promise<void>((resolve) => {
    close = resolve;
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => close());
  const drain = new Drain();
  const app = createConsoleApp({ config, metrics, log, api, hub, traffic, lab, closing });
  log.info('starting', {
    limiter: config.limiterUrl,
    balancer: config.balancerUrl,
    nodes: config.nodeUrls.map((n) => n.name),
    admin: config.adminToken ? 'on' : 'off',
    kill_revive: lab.canKill ? 'local lab' : 'off',
  });
  return startService({
    ...config,
    app,
    log,
    metrics,
    drain,
    onShutdown: () => traffic.stopAll(),
  });
}
