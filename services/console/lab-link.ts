/**
 * @module
 * Kill and revive a node: only the process that started the nodes can do that. In the
 * local lab (`npm run lab`, tools/lab.ts) that is the lab runner, which starts the console
 * with an IPC channel and answers {@link LabRequest}s with its own `kill` and `restart`.
 * In the compose lab the console would need the Docker socket, which it is not given (a
 * container holding it holds the host), so there the page names the Makefile targets.
 */

/** Sent by the console over the IPC channel. */
export interface LabRequest {
  type: 'lab-control';
  id: number;
  action: 'kill' | 'revive';
  service: string;
}

/** The lab runner's answer to the request with the same `id`. */
export interface LabReply {
  type: 'lab-control-result';
  id: number;
  error?: string;
}

export const NO_LAB_REASON =
  'kill and revive need the local lab (npm run lab); in the compose lab: make kill NODE=2, make revive NODE=2';

export interface LabLink {
  canKill: boolean;
  reason?: string;
  /** @throws Error with the lab's reason when it refused or failed */
  request(action: LabRequest['action'], service: string): Promise<void>;
}

/** The link to the lab runner when this process has an IPC channel to it, else a refusing one. */
export function labLink(proc: NodeJS.Process = process): LabLink {
  const send = proc.send?.bind(proc);
  if (!send) {
    return {
      canKill: false,
      reason: NO_LAB_REASON,
      request: () => Promise.reject(new Error(NO_LAB_REASON)),
    };
  }
  // The channel must not keep the console alive after its server has closed.
  proc.channel?.unref();
  let next = 0;
  const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  proc.on('message', (message: LabReply) => {
    if (message?.type !== 'lab-control-result') return;
    const entry = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error === undefined) entry?.resolve();
    else entry?.reject(new Error(message.error));
  });
  return {
    canKill: true,
    request(action, service) {
      const id = ++next;
      return new Promise<void>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        send({ type: 'lab-control', id, action, service } satisfies LabRequest);
      });
    },
  };
}
