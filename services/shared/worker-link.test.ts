import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidUpdateError } from './admin.js';
import { WorkerLink } from './worker-link.js';
import type { FromWorker, ToWorker } from './workers.js';

/** Two links and a stand-in primary that numbers updates and waits for every worker's ack. */
function pair() {
  const channels = [new MessageChannel(), new MessageChannel()];
  const links = channels.map((c, i) => new WorkerLink(i + 1, 2, c.port1));
  const primary = channels.map((c) => c.port2);
  let seq = 0;
  const acks = new Map<number, { origin: number; id: number; left: number }>();
  for (const [i, port] of primary.entries()) {
    port.on('message', (message: FromWorker) => {
      if (message.type === 'update') {
        acks.set(++seq, { origin: i, id: message.id, left: 2 });
        const update: ToWorker = {
          type: 'update',
          seq,
          id: message.id,
          origin: i + 1,
          at: 1000 * seq,
          patch: message.patch,
        };
        for (const p of primary) p.postMessage(update);
      } else if (message.type === 'applied') {
        const ack = acks.get(message.seq);
        if (ack && --ack.left === 0) primary[ack.origin]?.postMessage({ type: 'committed', id: ack.id });
      }
    });
  }
  const close = () => {
    for (const channel of channels) {
      channel.port1.close();
      channel.port2.close();
    }
  };
  return { links, close };
}

let close = () => {};
afterEach(() => close());

describe('WorkerLink config updates', () => {
  it('every worker applies every update in the same order, with the primary clock', async () => {
    const p = pair();
    close = p.close;
    const applied: [number, string, number][] = [];
    const apply = p.links.map((link) =>
      link.configUpdates(async (patch: string, at: number) => {
        applied.push([link.worker, patch, at]);
        return `${patch} on ${link.worker}`;
      }),
    );
    const answers = await Promise.all([apply[0]?.('a'), apply[1]?.('b'), apply[0]?.('c')]);
    expect(answers).toEqual(['a on 1', 'b on 2', 'c on 1']);
    const order = (worker: number) =>
      applied.filter(([w]) => w === worker).map(([, patch, at]) => `${patch}@${at}`);
    expect(order(1)).toEqual(order(2));
    expect(order(1)).toHaveLength(3);
  });

  it('a refused update rejects on the worker that took it, with its own error', async () => {
    const p = pair();
    close = p.close;
    const apply = p.links.map((link) =>
      link.configUpdates(async (patch: string) => {
        if (patch === 'bad') throw new InvalidUpdateError('invalid policies');
        return patch;
      }),
    );
    await expect(apply[1]?.('bad')).rejects.toBeInstanceOf(InvalidUpdateError);
    await expect(apply[0]?.('good')).resolves.toBe('good');
  });
});
