/**
 * @module
 * Part B's picture as pure functions: outcomes and counts in, text out.
 *
 * `renderRlEvent` is one request's line (who, status, latency, remaining quota);
 * `renderRlFrame` is the live terminal view (counters per actor, then the latest lines);
 * `renderRlLine` is one parsable line per interval for pipes and CI;
 * `renderRlSummary` is the final table (success rate, p50/p95 per actor).
 */
import type { ActorCounts, ActorSummary, Outcome } from '../../services/traffic/stats.js';
import { classify } from '../../services/traffic/stats.js';
import { formatLine, ms, paint, table } from './format.js';

/** How each actor is shown: the good user and the bad actor of the original, or any other. */
export interface Persona {
  icon: string;
  label: string;
}

export const PERSONAS: Record<string, Persona> = {
  good_user: { icon: '😇', label: 'good user' },
  bad_actor: { icon: '😈', label: 'bad actor' },
};

function persona(actor: string): Persona {
  return PERSONAS[actor] ?? { icon: '•', label: actor.replaceAll('_', ' ') };
}

function verdict(outcome: Outcome): string {
  const kind = classify(outcome.status);
  if (kind === 'limited') return 'BLOCKED';
  if (kind === 'ok') return 'OK';
  return outcome.status === 0 ? (outcome.error ?? 'no answer') : 'ERROR';
}

/** `😈 bad actor  429 BLOCKED   0.8 ms  remaining 0` */
export function renderRlEvent(outcome: Outcome, color = false): string {
  const who = persona(outcome.actor);
  const kind = classify(outcome.status);
  const status = `${outcome.status === 0 ? '---' : outcome.status} ${verdict(outcome)}`.padEnd(11);
  const remaining = outcome.remaining === undefined ? 'remaining ?' : `remaining ${outcome.remaining}`;
  return `${who.icon} ${who.label.padEnd(10)} ${paint(status, kind === 'ok' ? 'green' : kind === 'limited' ? 'red' : 'yellow', color)} ${ms(outcome.latencyMs).padStart(9)}  ${remaining}`;
}

export interface RlView {
  target: string;
  elapsedS: number;
  durationS: number;
  /** Requested rate per actor (req/s). */
  rates: Record<string, number>;
}

/** The live frame: a counter row per actor, then the latest event lines (oldest first). */
export function renderRlFrame(
  view: RlView,
  counts: Record<string, ActorCounts>,
  latest: Outcome[],
  color = false,
): string {
  const lines = [
    paint('=== Rate limiter: good user vs bad actor ===', 'bold', color),
    `target ${view.target} · ${view.elapsedS.toFixed(0)}/${view.durationS.toFixed(0)}s`,
    '',
  ];
  for (const [actor, c] of Object.entries(counts)) {
    const who = persona(actor);
    lines.push(
      `${who.icon} ${who.label.padEnd(10)} ${String(view.rates[actor] ?? '?').padStart(5)} req/s │ ` +
        `${paint(`200 ${String(c.ok).padStart(6)}`, 'green', color)}  ${paint(`429 ${String(c.limited).padStart(6)}`, 'red', color)}  ` +
        `${paint(`err ${String(c.errors).padStart(5)}`, 'yellow', color)}${c.dropped ? `  dropped ${c.dropped}` : ''}`,
    );
  }
  lines.push('', ...latest.map((o) => renderRlEvent(o, color)), '', 'Ctrl-C to stop');
  return lines.join('\n');
}

/** One parsable line: `t=5 good_user.ok=5 good_user.429=0 good_user.err=0 bad_actor.ok=10 ...`. */
export function renderRlLine(view: RlView, counts: Record<string, ActorCounts>): string {
  const fields: Record<string, string | number> = { t: Number(view.elapsedS.toFixed(1)) };
  for (const [actor, c] of Object.entries(counts)) {
    fields[`${actor}.ok`] = c.ok;
    fields[`${actor}.429`] = c.limited;
    fields[`${actor}.err`] = c.errors;
  }
  return formatLine(fields);
}

/** The final table, then one `final=rl ...` parsable line per actor. */
export function renderRlSummary(view: RlView, summaries: ActorSummary[]): string {
  const body = table(
    ['actor', 'sent', '200', '429', 'errors', 'success', 'p50', 'p95'],
    summaries.map((s) => [
      `${persona(s.actor).icon} ${persona(s.actor).label}`,
      s.total,
      s.ok,
      s.limited,
      s.errors,
      `${(s.successRate * 100).toFixed(1)}%`,
      ms(s.p50),
      ms(s.p95),
    ]),
  );
  const finals = summaries.map((s) =>
    formatLine({
      final: 'rl',
      actor: s.actor,
      sent: s.total,
      ok: s.ok,
      '429s': s.limited,
      errors: s.errors,
      dropped: s.dropped,
      success_pct: Number((s.successRate * 100).toFixed(2)),
      p50_ms: Number(s.p50.toFixed(1)),
      p95_ms: Number(s.p95.toFixed(1)),
    }),
  );
  return [`Summary after ${view.elapsedS.toFixed(1)}s against ${view.target}`, body, ...finals].join('\n');
}
