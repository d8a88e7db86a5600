import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BOARDS, DASHBOARD_DIR } from './generate.js';
import { BOARD_UID, buildLabBoard, DATASOURCE, metricNames, ROWS } from './lab-board.js';

interface JsonPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: { refId?: string; expr?: string }[];
}

describe('committed dashboards', () => {
  for (const [file, render] of Object.entries(BOARDS)) {
    it(`grafana/dashboards/${file} equals a fresh generation (run \`npm run dashboards\` and commit)`, () => {
      const committed = readFileSync(join(DASHBOARD_DIR, file), 'utf8');
      expect(committed).toBe(render());
    });
  }
});

describe('lab board', () => {
  const board = buildLabBoard() as unknown as {
    uid: string;
    schemaVersion: number;
    refresh: string;
    panels: JsonPanel[];
  };
  const panels = board.panels.filter((p) => p.type !== 'row');

  it('is the provisioned home board: fixed uid, 5 s refresh, current schema', () => {
    expect(board.uid).toBe(BOARD_UID);
    expect(board.refresh).toBe('5s');
    expect(board.schemaVersion).toBe(42);
  });

  it('has one JSON panel per spec, with unique ids', () => {
    expect(panels.length).toBe(ROWS.flatMap((r) => r.panels).length);
    const ids = board.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives every panel a title, a one-line description, a unit and the provisioned datasource', () => {
    for (const p of panels) {
      expect(p.title, 'title').toBeTruthy();
      expect(p.description, p.title).toMatch(/^[^\n]{20,300}$/);
      expect(p.fieldConfig?.defaults?.unit, p.title).toBeTruthy();
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE.uid);
    }
  });

  it('gives every query an expression and a refId unique within its panel', () => {
    for (const p of panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets ?? []) expect(t.expr, p.title).toBeTruthy();
    }
  });

  it('reads the metric names of DESIGN.md', () => {
    const used = new Set(
      ROWS.flatMap((r) => r.panels.flatMap((p) => p.queries.flatMap((q) => metricNames(q.expr)))),
    );
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'lab_balancer_upstream_in_flight',
      'lab_balancer_upstream_up',
      'lab_balancer_strategy_info',
      'lab_ratelimit_decisions_total',
      'lab_ratelimit_algorithm_info',
      'nodejs_eventloop_lag_p99_seconds',
      'k6_http_req_duration_p95',
      'k6_http_reqs_total',
    ]) {
      expect(used, name).toContain(name);
    }
  });
});

describe('metricNames', () => {
  it('finds metrics, not functions, keywords, labels or grouping labels', () => {
    expect(
      metricNames(
        'sum by (node) (rate(http_requests_total{job="node",route!~"/metrics|sum"}[$__rate_interval])) / ignoring (node) group_left sum(rate(other_total[1m]))',
      ),
    ).toEqual(['http_requests_total', 'other_total']);
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))')).toEqual(['x_bucket']);
    expect(metricNames('max by (strategy) (lab_balancer_strategy_info) == 1')).toEqual([
      'lab_balancer_strategy_info',
    ]);
  });
});
