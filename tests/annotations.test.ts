import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnnotationEvent,
  alignRange,
  annotationStep,
  type MatrixSeries,
  processEvents,
  toFrames,
} from '../grafana/annotation-events.js';
import { ANNOTATIONS, type AnnotationSpec } from '../grafana/annotations.js';
import { ADMIN_TOKEN, putConfig, type ServiceProcess, spawnRole, waitForHttp } from './helpers/processes.js';
import { type ScrapedLab, startScrapedLab } from './helpers/prometheus.js';
import { PROMETHEUS, skipWithout } from './helpers/requires.js';

const _ROOT = new URL('..', import.meta.url).pathname;
const withoutPrometheus = skipWithout('annotations test', [PROMETHEUS]);

const spec = (name: string): AnnotationSpec => {
  const found = ANNOTATIONS.find((a) => a.name === name);
  if (!found) throw new Error(`the board has no annotation "${name}"`);
  return found;
};

/** Polls `probe` until `done` holds for its value; fails with the last value after `timeoutMs`. */
async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(250);
    value = await probe();
  }
  return value;
}

describe.skipIf(withoutPrometheus)('the board annotations against a real Prometheus', () => {
  let lab: ScrapedLab | undefined;
  let services = {} as ScrapedLab['services'];
  let prometheusUrl = '';
  /** Start of the window the annotation queries cover (ms). */
  let windowStart = 0;

  async function api<T>(path: string, params: Record<string, string>): Promise<T> {
    const response = await fetch(`${prometheusUrl}/api/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    const body = (await response.json()) as { status: string; error?: string; data: T };
    if (body.status !== 'success') throw new Error(`${path} ${params.query}: ${body.error}`);
    return body.data;
  }

  /** An instant query's values, by the value of `label`. */
  async function instant(query: string, label: string): Promise<Record<string, number>> {
    const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
      'query',
      {
        query,
      },
    );
    return Object.fromEntries(data.result.map((r) => [r.metric[label] ?? '', Number(r.value[1])]));
  }

  /** The annotation query run as Grafana runs it over [windowStart, now], and its events. */
  async function grafanaEvents(annotation: AnnotationSpec) {
    const end = Date.now();
    const stepMs = annotationStep(annotation.step, end - windowStart);
    const range = alignRange(windowStart, end, stepMs);
    const data = await api<{ resultType: string; result: MatrixSeries[] }>('query_range', {
      query: annotation.expr,
      start: String(range.start / 1000),
      end: String(range.end / 1000),
      step: String(stepMs / 1000),
    });
    expect(data.resultType).toBe('matrix');
    const frames = toFrames(data.result, stepMs, annotation.expr);
    return { frames, events: processEvents(annotation, frames) };
  }

  const nodeEnv = (n: number) => ['--id', `node-${n}`];

  beforeAll(async () => {
    lab = await startScrapedLab('annotations');
    services = lab.services;
    prometheusUrl = lab.prometheusUrl;
    windowStart = Date.now();
    await eventually(
      'all five up',
      async () => (await api<{ result: unknown[] }>('query', { query: 'up == 1' })).result.length,
      (n) => n === 5,
    );
  }, 120_000);

  afterAll(() => lab?.stop(), 60_000);

  /** When each change was made: [just before the PUT, just after its answer] (ms). */
  const made: Record<string, [number, number]> = {};
  async function change(name: string, url: string, body: unknown) {
    const before = Date.now();
    const response = await putConfig(url, body);
    expect(response.status, await response.clone().text()).toBe(200);
    await response.arrayBuffer();
    made[name] = [before, Date.now()];
  }

  const expectOne = (events: AnnotationEvent[], name: string) => {
    expect(events, JSON.stringify(events)).toHaveLength(1);
    const [event] = events as [AnnotationEvent];
    const [from, to] = made[name] as [number, number];
    // A change is stamped between the request and its answer; one mark, not a region.
    expect(event.time).toBeGreaterThanOrEqual(from - 1);
    expect(event.time).toBeLessThanOrEqual(to + 1);
    expect(event.timeEnd).toBe(event.time);
    return event;
  };

  it('marks a strategy switch, a policy change and a node load change, once each', async () => {
    const balancer = services.balancer as ServiceProcess;
    const limiter = services.limiter as ServiceProcess;
    const node2 = services['node-2'] as ServiceProcess;

    await change('strategy', balancer.url, { strategy: 'least-connections' });
    const policies = (await (
      await fetch(`${limiter.url}/admin/config`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json()) as { policies: { default: unknown; clients: Record<string, unknown> } };
    await change('policy', limiter.url, {
      policies: { ...policies.policies, default: { algorithm: 'fixed-window', limit: 100, window: '60s' } },
    });
    await change('load', node2.url, { loadFactor: 25 });

    const balancerEvents = await eventually(
      'balancer change mark',
      async () => (await grafanaEvents(spec('Balancer changes'))).events,
      (events) => events.length > 0,
    );
    const strategy = expectOne(balancerEvents, 'strategy');
    expect(strategy.title).toBe('balancer: strategy round-robin → least-connections');
    expect(strategy.text).toBe(`live config change (PUT /admin/config on 127.0.0.1:${balancer.port})`);
    expect(strategy.tags.sort()).toEqual(['balancer', 'strategy']);

    const policyEvents = await eventually(
      'policy change mark',
      async () => (await grafanaEvents(spec('Rate-limit policy changes'))).events,
      (events) => events.length > 0,
    );
    const policy = expectOne(policyEvents, 'policy');
    // Only the default policy changed: one mark for it, none for the other clients.
    expect(policy.title).toBe('limiter: policy default token-bucket 10/1s → fixed-window 100/60s');
    expect(policy.tags.sort()).toEqual(['limiter', 'policy default']);

    const nodeEvents = await eventually(
      'node change mark',
      async () => (await grafanaEvents(spec('Node changes'))).events,
      (events) => events.length > 0,
    );
    const load = expectOne(nodeEvents, 'load');
    expect(load.title).toBe('node-2: load factor 0 → 25');
    expect(load.text).toBe(`live config change (PUT /admin/config on 127.0.0.1:${node2.port})`);
    expect(load.tags.sort()).toEqual(['load factor', 'node-2']);

    // Scraped again and again, each change is still one mark (every sample carries its time).
    const scrapes = await instant('count_over_time(lab_config_change_timestamp_seconds[1m])', 'setting');
    await eventually(
      'more scrapes of the changes',
      () => instant('count_over_time(lab_config_change_timestamp_seconds[1m])', 'setting'),
      (now) => Object.entries(scrapes).every(([k, n]) => (now[k] ?? 0) >= n + 2),
    );
    for (const name of ['Balancer changes', 'Rate-limit policy changes', 'Node changes']) {
      expect((await grafanaEvents(spec(name))).events, name).toHaveLength(1);
    }
  }, 90_000);

  it('marks a killed and restarted node as one "down" region', async () => {
    const node2 = services['node-2'] as ServiceProcess;
    const port = node2.port;
    const down = spec('Process down');
    // node-2's own events: a scrape of another service that timed out on a loaded machine
    // would be a (real) down event of that service, not what this test is about.
    const node2Events = (events: AnnotationEvent[]) => events.filter((e) => e.tags.includes('node-2'));
    expect(node2Events((await grafanaEvents(down)).events)).toEqual([]);

    const killedAt = Date.now();
    node2.proc.kill('SIGKILL');
    await node2.exited;
    await eventually(
      'node-2 seen down',
      () => instant('up{job="node"}', 'node'),
      (up) => up['node-2'] === 0,
    );
    const revivedAt = Date.now();
    const revived = spawnRole('node', ['--port', String(port), ...nodeEnv(2)], { ADMIN_TOKEN });
    await waitForHttp(`${revived.url}/health`, 15_000, revived);
    services['node-2'] = revived;

    // Until the region is closed: node-2's series went down (1) and, after that, up again (0).
    // (Its last value alone says nothing: before the range reaches the kill it is 0 too.)
    const { events: all } = await eventually(
      'node-2 down region closed',
      () => grafanaEvents(down),
      ({ frames }) => {
        const values = frames.find((f) => f.labels.target === 'node-2')?.values ?? [];
        const wentDown = values.indexOf(1);
        return wentDown !== -1 && values.indexOf(0, wentDown) !== -1;
      },
    );
    const events = node2Events(all);
    expect(events, JSON.stringify(all)).toHaveLength(1);
    const [event] = events as [AnnotationEvent];
    expect(event.title).toBe('node-2 down');
    expect(event.text).toBe(
      `Prometheus could not scrape 127.0.0.1:${port} (up = 0): killed, crashed or stopped`,
    );
    expect(event.tags).toEqual(['node-2']);
    // The region lies between the kill and the first scrape after the restart.
    expect(event.time).toBeGreaterThanOrEqual(killedAt - 2_000);
    expect(event.timeEnd).toBeGreaterThanOrEqual(event.time);
    expect(event.timeEnd).toBeGreaterThanOrEqual(revivedAt - 2_000);
    expect(event.timeEnd).toBeLessThanOrEqual(Date.now());

    // The restart reset node-2's config, but its earlier load change is still one mark.
    expect((await grafanaEvents(spec('Node changes'))).events).toHaveLength(1);
  }, 90_000);
});
