/**
 * @module
 * What a chaos run saw, as one JSON-ready object (`--json`) and as text for a terminal.
 * Building it from the raw observations is pure, so the counts can be checked in a unit test.
 */

/** One injected fault: a node killed, started again, and seen healthy by the balancer. Times in s from the start. */
export interface Fault {
  node: string;
  killedAtS: number;
  /** When it was started again; null when the start failed or never came. */
  restartedAtS: number | null;
  /** When the balancer first reported it healthy after the restart; null if it never did. */
  backAtS: number | null;
  /** backAtS − killedAtS: how long the node was out of service. */
  outS: number | null;
  /** Whether the balancer ejected it at all (a kill it never noticed leaves this false). */
  seenDown: boolean;
  error?: string;
}

export interface ChaosReport {
  target: 'local' | 'compose';
  seed: number;
  settings: {
    durationS: number;
    everyS: number;
    restartAfterS: number;
    rate: number;
    /** The nodes chaos could kill. */
    killable: string[];
    maxDown: number;
  };
  elapsedS: number;
  /** Stopped early (Ctrl-C). */
  aborted: boolean;
  requests: {
    /** Requests that got an answer or failed: ok + failed. */
    sent: number;
    ok: number;
    failed: number;
    /** Failed requests by kind: a status code (`502`), or a connection error (`ECONNREFUSED`, `timeout`). */
    failures: Record<string, number>;
    /** Arrivals not sent because too many requests were already waiting. */
    dropped: number;
    p50Ms: number;
    p95Ms: number;
    maxMs: number;
  };
  faults: Fault[];
  /** Kill times skipped, and why (too many nodes out). */
  skipped: { atS: number; reason: string }[];
  /** Per node of the lab: how often killed, total time out, healthy at the end. */
  nodes: { name: string; kills: number; outS: number; back: boolean }[];
  /** Every node healthy in the balancer at the end. */
  allBack: boolean;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface Observations {
  allNodes: string[];
  faults: Fault[];
  /** Healthy in the balancer at the end, per node. */
  healthyAtEnd: Record<string, boolean>;
  statuses: Record<string, number>;
  dropped: number;
  latenciesMs: number[];
}

/** The report's derived parts from what the run observed (times already in s, rounded here). */
export function summarize(
  head: Pick<ChaosReport, 'target' | 'seed' | 'settings' | 'elapsedS' | 'aborted' | 'skipped'>,
  o: Observations,
): ChaosReport {
  let ok = 0;
  const failures: Record<string, number> = {};
  for (const [kind, count] of Object.entries(o.statuses)) {
    const status = Number(kind);
    if (status >= 200 && status < 400) ok += count;
    else failures[kind] = (failures[kind] ?? 0) + count;
  }
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  const sorted = [...o.latenciesMs].sort((a, b) => a - b);
  const pick = (p: number) =>
    sorted.length === 0
      ? 0
      : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
  const faults = o.faults.map((f) => ({
    ...f,
    killedAtS: round(f.killedAtS),
    restartedAtS: f.restartedAtS === null ? null : round(f.restartedAtS),
    backAtS: f.backAtS === null ? null : round(f.backAtS),
    outS: f.outS === null ? null : round(f.outS),
  }));
  const nodes = o.allNodes.map((name) => {
    const mine = faults.filter((f) => f.node === name);
    return {
      name,
      kills: mine.length,
      outS: round(mine.reduce((sum, f) => sum + (f.outS ?? 0), 0)),
      back: o.healthyAtEnd[name] === true,
    };
  });
  return {
    ...head,
    elapsedS: round(head.elapsedS),
    skipped: head.skipped.map((s) => ({ ...s, atS: round(s.atS) })),
    requests: {
      sent: ok + failed,
      ok,
      failed,
      failures,
      dropped: o.dropped,
      p50Ms: round(pick(50), 1),
      p95Ms: round(pick(95), 1),
      maxMs: round(pick(100), 1),
    },
    faults,
    nodes,
    allBack: nodes.every((n) => n.back),
  };
}

const s = (x: number | null) => (x === null ? '   —  ' : `${x.toFixed(1).padStart(5)}s`);

/** The report as text: settings, requests, one line per fault, one per node, the verdict. */
export function renderReport(r: ChaosReport): string {
  const q = r.requests;
  const failures = Object.entries(q.failures)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind}×${n}`)
    .join(', ');
  const lines = [
    `=== Chaos report (${r.target} lab${r.aborted ? ', stopped early' : ''}) ===`,
    `settings: ${r.settings.durationS}s, a kill every ${r.settings.everyS}s, restart after ${r.settings.restartAfterS}s, ` +
      `${r.settings.rate} req/s, seed ${r.seed}, killable ${r.settings.killable.join(',')}, at most ${r.settings.maxDown} out`,
    `requests: ${q.sent} sent, ${q.ok} ok, ${q.failed} failed${q.failed ? ` (${failures})` : ''}` +
      `${q.dropped ? `, ${q.dropped} not sent (too many waiting)` : ''}; p50 ${q.p50Ms} ms, p95 ${q.p95Ms} ms, max ${q.maxMs} ms`,
    `faults injected: ${r.faults.length}${r.skipped.length ? ` (${r.skipped.length} kill(s) skipped: too many nodes out)` : ''}`,
    '  node      killed  restarted   back     out',
    ...r.faults.map(
      (f) =>
        `  ${f.node.padEnd(8)} ${s(f.killedAtS)}   ${s(f.restartedAtS)}  ${s(f.backAtS)}  ${s(f.outS)}` +
        `${f.seenDown ? '' : '  (never ejected)'}${f.error ? `  error: ${f.error}` : ''}`,
    ),
    'per node:',
    ...r.nodes.map(
      (n) =>
        `  ${n.name.padEnd(8)} killed ${n.kills}×, out ${n.outS.toFixed(1)}s in all, ${n.back ? 'back' : 'NOT BACK'}`,
    ),
    r.allBack && q.failed === 0
      ? `verdict: every node back, no failed request`
      : `verdict: ${r.allBack ? 'every node back' : 'NOT every node is back'}, ${q.failed} failed request(s)`,
  ];
  return lines.join('\n');
}
