import { describe, expect, it } from 'vitest';
import {
  alignRange,
  annotationStep,
  type Frame,
  goDuration,
  processEvents,
  renderLegendFormat,
  toFrames,
} from './annotation-events.js';
import { ANNOTATIONS } from './annotations.js';
import { buildLabBoard, DATASOURCE, metricNames } from './lab-board.js';

const regions = {
  step: '2s',
  useValueForTime: false,
  titleFormat: '{{job}} down',
  textFormat: '',
  tagKeys: 'job',
};
const frame = (times: number[], values: number[], labels = { job: 'node' }, step = '2s'): Frame => ({
  labels,
  times,
  values,
  executedQueryString: `Expr: up\nStep: ${step}`,
});

describe("Grafana's Prometheus annotation events (the model)", () => {
  it('merges non-zero samples no more than a step apart into one region, drops zeros', () => {
    const events = processEvents(regions, [frame([0, 2000, 4000, 6000, 8000, 10000], [1, 1, 1, 0, 1, 1])]);
    expect(events).toEqual([
      { time: 0, timeEnd: 4000, title: 'node down', text: '', tags: ['node'] },
      { time: 8000, timeEnd: 10000, title: 'node down', text: '', tags: ['node'] },
    ]);
  });

  it('reads the step from "Step: <Go duration>" of the first frame (1m0s = 60 s bridges the gap)', () => {
    const frames = [frame([0, 2000, 4000], [1, 0, 1], { job: 'node' }, '1m0s')];
    expect(processEvents(regions, frames)).toHaveLength(1);
    expect(processEvents(regions, [frame([0, 2000, 4000], [1, 0, 1])])).toHaveLength(2);
  });

  it('uses the value as the time with useValueForTime: one event per distinct value', () => {
    const t1 = 1_800_000_000_123;
    const t3 = t1 + 30_000;
    const events = processEvents({ ...regions, useValueForTime: true }, [
      frame([0, 2000, 4000, 6000, 8000], [t1, t1, t1, t3, t3]),
    ]);
    expect(events.map((e) => [e.time, e.timeEnd])).toEqual([
      [t1, t1],
      [t3, t3],
    ]);
  });

  it('makes events per frame, each with its own labels; no frames, no events', () => {
    const frames = [frame([0], [1], { job: 'a' }), { labels: { job: 'b' }, times: [0], values: [1] }];
    expect(processEvents(regions, frames).map((e) => e.title)).toEqual(['a down', 'b down']);
    expect(processEvents(regions, [])).toEqual([]);
  });

  it('renders {{label}} templates, leaving an unknown label as it is', () => {
    expect(renderLegendFormat('{{ target }}: {{setting}} {{nope}}', { target: 'node-2', setting: 'x' })).toBe(
      'node-2: x {{nope}}',
    );
  });

  it('turns a query_range matrix into frames the way the backend does', () => {
    const frames = toFrames(
      [
        { metric: { job: 'node' }, values: [[1_800_000_000.5, '1']] },
        { metric: { job: 'limiter' }, values: [] },
      ],
      2000,
      'up',
    );
    expect(frames[0]).toEqual({
      labels: { job: 'node' },
      times: [1_800_000_000_500],
      values: [1],
      executedQueryString: 'Expr: up\nStep: 2s',
    });
    expect(frames[1]?.executedQueryString).toBeUndefined();
  });

  it('steps by the annotation step on short windows, aligned down; refuses what it does not model', () => {
    expect(annotationStep('2s', 15 * 60_000)).toBe(2000);
    expect(() => annotationStep('2s', 6 * 3_600_000)).toThrow(/not modelled/);
    expect(alignRange(10_999, 71_001, 2000)).toEqual({ start: 10_000, end: 70_000 });
    expect([goDuration(2000), goDuration(60_000), goDuration(3_723_000)]).toEqual(['2s', '1m0s', '1h2m3s']);
  });
});

describe('the board carries the annotations', () => {
  const board = buildLabBoard() as unknown as {
    annotations: { list: Record<string, unknown>[] };
  };

  it('one Prometheus annotation query per spec, with templates, step and target', () => {
    expect(board.annotations.list).toHaveLength(ANNOTATIONS.length);
    for (const [i, spec] of ANNOTATIONS.entries()) {
      const json = board.annotations.list[i] as Record<string, unknown> & { target: Record<string, unknown> };
      expect(json).toMatchObject({
        name: spec.name,
        enable: true,
        datasource: DATASOURCE,
        expr: spec.expr,
        step: spec.step,
        useValueForTime: spec.useValueForTime,
        titleFormat: spec.titleFormat,
        textFormat: spec.textFormat,
        tagKeys: spec.tagKeys,
      });
      expect(json.target).toMatchObject({ expr: spec.expr, interval: spec.step, refId: 'Anno' });
      expect(json.placement).toBeUndefined();
    }
  });

  it('reads the config-change and up metrics, every template label made by the query or kept by it', () => {
    const names = new Set(ANNOTATIONS.flatMap((a) => metricNames(a.expr)));
    expect([...names].sort()).toEqual(['lab_config_change_timestamp_seconds', 'up']);
    for (const spec of ANNOTATIONS) {
      for (const [, label] of `${spec.titleFormat} ${spec.textFormat}`.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
        expect(['target', 'setting', 'from', 'to', 'instance'], `${spec.name}: ${label}`).toContain(label);
      }
    }
  });
});
