/**
 * @module
 * The script every worker thread of `startWorkers` (workers.ts) runs: the service's own
 * `run(argv)`, which sees it is in a worker (`workerThread()`) and listens on the
 * primary's port with `reusePort`. Reports `listening`, or why it could not start, and
 * then drains and ends when the primary says `stop` (a second time: `skip`), as a single
 * process does on SIGTERM. A separate module so that nothing that imports the runtime
 * also runs it.
 */
import { ConfigError } from './config.js';
import { PortInUseError, type RunningService } from './server.js';
import { type StartFailure, workerThread } from './workers.js';

const thread = workerThread();
if (!thread) throw new Error('worker-entry.ts runs only as a worker thread started by startWorkers');
const { group } = thread;

try {
  const main = (await import(thread.entry)) as { run(argv: readonly string[]): Promise<RunningService> };
  const service = await main.run(thread.argv);
  let stopping = false;
  group.onStop = (drainDelayMs) => {
    if (stopping) return service.drain.skip();
    stopping = true;
    service.stop(drainDelayMs).then(
      () => process.exit(0),
      (error: Error) => {
        process.stderr.write(`worker ${group.worker}: shutdown failed: ${error.stack ?? error.message}\n`);
        process.exit(1);
      },
    );
  };
  group.onSkip = () => service.drain.skip();
  group.post({ type: 'listening' });
} catch (error) {
  group.post({ type: 'failed', failure: failureOf(error) });
}

function failureOf(error: unknown): StartFailure {
  if (error instanceof PortInUseError) return { kind: 'port' };
  if (error instanceof ConfigError) return { kind: 'config', problems: error.problems };
  return { kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}
