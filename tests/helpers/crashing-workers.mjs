/**
 * A service of two worker threads (the real runtime from dist/) whose worker 2 throws
 * 300 ms after it listens: what `tests/workers.test.ts` checks the crash policy with.
 * `node tests/helpers/crashing-workers.mjs` (after `npm run build`).
 */
import { Hono } from 'hono';
import { createLogger } from '../../dist/shared/logger.js';
import { startService } from '../../dist/shared/server.js';
import { startWorkers, workerThread } from '../../dist/shared/workers.js';

export async function run(argv) {
  const thread = workerThread();
  const log = createLogger('crashing', 'info', undefined, thread?.logFields);
  if (!thread) {
    const common = { host: '127.0.0.1', port: 0, drainDelayMs: 300, log };
    return startWorkers({ ...common, workers: 2, entry: import.meta.url, argv, env: process.env });
  }
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  const service = await startService({
    app,
    log,
    host: '127.0.0.1',
    shutdownTimeoutMs: 1000,
    ...thread.listen,
  });
  if (thread.logFields.worker === 2) {
    setTimeout(() => {
      throw new Error('worker 2 crashed on purpose');
    }, 300);
  }
  return service;
}

if (!workerThread()) await run([]);
