/**
 * @module
 * An incident's before/after figures as text (pure): a table per actor and phase, one
 * parsable line per actor and phase, and a verdict line per watched actor (the incident's
 * `watch` in loadtests/scenarios.json) on what the fix changed.
 */
import type { ActorSummary } from '../../services/traffic/stats.js';
import { formatLine, ms, table } from '../viz/format.js';

function pct(part: number, total: number): string {
  return total === 0 ? '–' : `${((part / total) * 100).toFixed(1)}%`;
}

export function incidentLines(name: string, phase: 'before' | 'after', summaries: ActorSummary[]): string[] {
  return summaries.map((s) =>
    formatLine({
      incident: name,
      phase,
      actor: s.actor,
      sent: s.total,
      ok: s.ok,
      '429s': s.limited,
      errors: s.errors,
      dropped: s.dropped,
      success_pct: Number((s.successRate * 100).toFixed(2)),
      error_pct: s.total ? Number(((s.errors / s.total) * 100).toFixed(2)) : 0,
      p50_ms: Number(s.p50.toFixed(1)),
      p95_ms: Number(s.p95.toFixed(1)),
      statuses:
        Object.entries(s.statuses)
          .map(([status, n]) => `${status}:${n}`)
          .join(',') || '-',
    }),
  );
}

/**
 * The whole report: table, parsable lines, verdict.
 * @param watch - the actors whose before/after figures the verdict compares
 */
export function renderIncidentReport(
  name: string,
  before: ActorSummary[],
  after: ActorSummary[],
  watch: readonly string[],
): string {
  const rows = (phase: string, summaries: ActorSummary[]) =>
    summaries.map((s) => [
      `${phase} ${s.actor}`,
      s.total,
      pct(s.ok, s.total),
      pct(s.limited, s.total),
      pct(s.errors, s.total),
      ms(s.p50),
      ms(s.p95),
    ]);
  const verdicts = watch.map((watched) => {
    const b = before.find((s) => s.actor === watched);
    const a = after.find((s) => s.actor === watched);
    return b && a
      ? `${watched}: success ${pct(b.ok, b.total)} → ${pct(a.ok, a.total)}, errors ${pct(b.errors, b.total)} → ${pct(a.errors, a.total)}, 429s ${pct(b.limited, b.total)} → ${pct(a.limited, a.total)}, p95 ${ms(b.p95)} → ${ms(a.p95)}`
      : 'no "after" phase (stopped early)';
  });
  return [
    `Incident ${name}: before and after the fix`,
    table(
      ['phase actor', 'sent', '200', '429', 'errors', 'p50', 'p95'],
      [...rows('before', before), ...rows('after', after)],
    ),
    '',
    ...incidentLines(name, 'before', before),
    ...incidentLines(name, 'after', after),
    '',
    ...verdicts.map((verdict) => `verdict: ${verdict}`),
  ].join('\n');
}
