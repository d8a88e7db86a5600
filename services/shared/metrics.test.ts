import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics, httpMetrics, metricsHandler } from './metrics.js';

/** A small parser of the Prometheus text format: every sample line must be well-formed. */
function parseExposition(text: string) {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    if (!match) throw new Error(`not a valid exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

function build() {
  const metrics = createMetrics('test', { registry: new Registry() });
  const app = new Hono();
  app.use('*', httpMetrics(metrics));
  app.get('/metrics', metricsHandler(metrics));
  app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
  app.post('/fail', () => {
    throw new Error('boom');
  });
  app.onError((_error, c) => c.json({ error: 'internal' }, 500));
  return { app, metrics };
}

describe('metrics', () => {
  it('serves parsable Prometheus text with default process metrics', async () => {
    const { app } = build();
    const response = await app.request('/metrics');
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = parseExposition(await response.text());
    const names = new Set(samples.map((s) => s.name));
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
    expect(samples.every((s) => s.labels.service === 'test')).toBe(true);
  });

  it('labels requests by route template, never the raw path', async () => {
    const { app } = build();
    for (let i = 0; i < 50; i++) await app.request(`/items/${i}`);
    const samples = parseExposition(await (await app.request('/metrics')).text());
    const counts = samples.filter((s) => s.name === 'http_requests_total');
    expect(counts).toEqual([
      {
        name: 'http_requests_total',
        labels: { route: '/items/:id', method: 'GET', status: '200', service: 'test' },
        value: 50,
      },
    ]);
  });

  it('keeps unmatched paths and invented methods to one series each', async () => {
    const { app } = build();
    for (let i = 0; i < 30; i++) await app.request(`/scan/${i}/wp-login.php`);
    for (const method of ['BREW', 'PROPFIND']) await app.request('/items/1', { method });
    const samples = parseExposition(await (await app.request('/metrics')).text());
    const routes = samples
      .filter((s) => s.name === 'http_requests_total')
      .map((s) => `${s.labels.method} ${s.labels.route} ${s.labels.status} ${s.value}`);
    expect(routes).toEqual(['GET unmatched 404 30', 'OTHER unmatched 404 2']);
  });

  it('records failed requests too, with their status', async () => {
    const { app } = build();
    await app.request('/fail', { method: 'POST' });
    const samples = parseExposition(await (await app.request('/metrics')).text());
    const failed = samples.find(
      (s) => s.name === 'http_request_duration_seconds_count' && s.labels.route === '/fail',
    );
    expect(failed).toMatchObject({ labels: { status: '500', method: 'POST' }, value: 1 });
  });

  it('recordRequest feeds the counter and the histogram', async () => {
    const { metrics } = build();
    metrics.recordRequest('/*', 'GET', 200, 0.002);
    metrics.recordRequest('/*', 'GET', 200, 0.2);
    const samples = parseExposition(await metrics.registry.metrics());
    expect(samples.find((s) => s.name === 'http_requests_total')?.value).toBe(2);
    const le5ms = samples.find(
      (s) => s.name === 'http_request_duration_seconds_bucket' && s.labels.le === '0.005',
    );
    expect(le5ms?.value).toBe(1);
  });
});
