/**
 * @module
 * The local target: a lab of its own, started with the lab runner's code (`tools/lab.ts`),
 * whose node processes chaos SIGKILLs and starts again. Its services run in process groups
 * of their own, so a terminal's Ctrl-C reaches chaos alone, which then restores and reports.
 */
import { LocalLab, portsTakenMessage, SERVICES, takenPorts } from '../lab.js';
import type { ChaosTarget } from './target.js';

export class PortsTakenError extends Error {}

export interface LocalTargetOptions {
  offset: number;
  adminToken: string;
  /** Service log lines (`--verbose`); dropped without it. */
  output?: (service: string, line: string) => void;
  /** A service exited that chaos did not kill (the balancer or limiter died: the run is void). */
  onUnexpectedExit: (name: string, how: string) => void;
}

/**
 * Starts the lab (refusing, with a hint about `--port-offset`, when its ports are taken).
 * @throws PortsTakenError
 */
export async function localTarget(options: LocalTargetOptions): Promise<ChaosTarget> {
  const taken = await takenPorts(options.offset);
  if (taken.length > 0)
    throw new PortsTakenError(portsTakenMessage('chaos', taken, 'npm run chaos --').trimEnd());
  const lab = new LocalLab({
    offset: options.offset,
    adminToken: options.adminToken,
    detached: true,
    onUnexpectedExit: options.onUnexpectedExit,
    ...(options.output ? { output: options.output } : {}),
  });
  try {
    await lab.startAll();
  } catch (error) {
    await lab.stop();
    throw error;
  }
  const nodes = SERVICES.filter((s) => s.role === 'node').map((s) => ({
    name: s.name,
    upstreams: [`127.0.0.1:${lab.port(s.name)}`],
  }));
  return {
    kind: 'local',
    nodes,
    edge: lab.url('limiter'),
    balancer: lab.url('balancer'),
    token: lab.adminToken,
    kill: (node) => lab.kill(node.name, 'SIGKILL'),
    start: (node) => lab.restart(node.name),
    close: async () => {
      await lab.stop();
    },
  };
}
