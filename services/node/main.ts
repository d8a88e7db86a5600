/**
 * @module
 * `node dist/main.js node [--id 1] [--port 5001] [--load-factor 30] ...`
 */
import { loadConfig } from '../shared/config.js';
import { Drain } from '../shared/drain.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { startService } from '../shared/server.js';
import { createNodeApp } from './app.js';
import { nodeConfigShape, nodeConfigSources } from './config.js';

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(nodeConfigShape, { argv, env, sources: nodeConfigSources });
  const log = createLogger(`node-${config.id}`, config.logLevel);
  const metrics = createMetrics('node');
  const drain = new Drain();
  const app = createNodeApp({ config, metrics, log, drain });
  log.info('starting', {
    node_id: config.id,
    load_factor: config.loadFactor,
    latency_ms: config.latencyMs,
    fail_rate: config.failRate,
    admin: config.adminToken ? 'on' : 'off',
  });
  return startService({ ...config, app, log, metrics, drain });
}
