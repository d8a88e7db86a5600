/**
 * @module
 * When chaos strikes and whom: the kill times of a run, and the victim of each kill, drawn
 * with an injected random source (`seeded` from the balancer's strategies, so a run can be
 * replayed with `--seed`).
 *
 * Pure: no clock, no processes. The runner asks `pickVictim` at each kill time with the
 * nodes that are out right now (killed, and not yet seen healthy by the balancer again).
 */

/**
 * The kill times of a run, in ms from its start: one every `everyMs`, the first after
 * one interval (so the traffic has a baseline), all strictly before the end.
 * @example killTimes({ durationMs: 30_000, everyMs: 5_000 }) // [5000, 10000, 15000, 20000, 25000]
 */
export function killTimes({ durationMs, everyMs }: { durationMs: number; everyMs: number }): number[] {
  if (!(everyMs > 0)) throw new Error(`everyMs must be positive, got ${everyMs}`);
  const times: number[] = [];
  for (let t = everyMs; t < durationMs; t += everyMs) times.push(t);
  return times;
}

export type Pick = { node: string } | { skip: string };

/**
 * The node to kill now: a uniformly random one of `killable` that is not out already, as
 * long as fewer than `maxDown` nodes are out; otherwise a reason to skip this kill.
 *
 * @param killable - the nodes chaos may kill (`--nodes`)
 * @param out - every node that is out now (killed, not yet back in the balancer)
 * @param maxDown - most nodes out at once (`--max-down`; N-1 by default, so one always serves)
 * @param random - [0, 1)
 */
export function pickVictim(
  killable: readonly string[],
  out: ReadonlySet<string>,
  maxDown: number,
  random: () => number,
): Pick {
  if (out.size >= maxDown) {
    return { skip: `${out.size} node(s) already out (${[...out].join(', ')}), --max-down is ${maxDown}` };
  }
  const candidates = killable.filter((n) => !out.has(n));
  if (candidates.length === 0) return { skip: `every killable node is out (${[...out].join(', ')})` };
  const index = Math.min(candidates.length - 1, Math.floor(random() * candidates.length));
  return { node: candidates[index] as string };
}
