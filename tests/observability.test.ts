import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricNames, ROWS } from '../grafana/lab-board.js';
import { run } from './helpers/docker.js';
import type { ServiceProcess } from './helpers/processes.js';
import { type ScrapedLab, startScrapedLab } from './helpers/prometheus.js';
import { DOCKER_COMPOSE_CLI, PROMETHEUS, PROMTOOL, skipWithout } from './helpers/requires.js';

const ROOT = new URL('..', import.meta.url).pathname;
const withoutPrometheus = skipWithout('observability test', [PROMETHEUS]);
const withoutPromtool = skipWithout('observability promtool check', [PROMTOOL]);
const withoutComposeCli = skipWithout('observability compose config check', [DOCKER_COMPOSE_CLI]);

/** Grafana's interval macros, as Grafana would expand them for a 2 s scrape interval. */
const expand = (expr: string) => expr.replaceAll('$__rate_interval', '30s').replaceAll('$__interval', '2s');

const PANELS = ROWS.flatMap((row) => row.panels);

describe('configs', () => {
  it.skipIf(withoutPromtool)('promtool check config accepts every Prometheus config', async () => {
    for (const file of [
      'prometheus/prometheus.yml',
      'prometheus/prometheus.scaled.yml',
      'prometheus/prometheus.swarm.yml',
    ]) {
      const result = await run('promtool', ['check', 'config', file], { cwd: ROOT });
      expect(result.code, `${file}: ${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  it.skipIf(withoutComposeCli)(
    'docker-compose config accepts the compose file of each topology',
    async () => {
      for (const files of [['docker-compose.yml'], ['docker-compose.scaled.yml']]) {
        const args = [...files.flatMap((f) => ['-f', f]), 'config', '-q'];
        const result = await run('docker-compose', args, { cwd: ROOT });
        expect(result.code, `${files.join(' + ')}: ${result.stderr}`).toBe(0);
      }
    },
  );
});

describe.skipIf(withoutPrometheus)('the lab board against a real Prometheus', () => {
  let lab: ScrapedLab | undefined;
  let services = {} as ScrapedLab['services'];
  let prometheusUrl = '';

  async function query(
    expr: string,
  ): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
    const response = await fetch(`${prometheusUrl}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expand(expr) }),
    });
    return (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  }

  beforeAll(async () => {
    lab = await startScrapedLab('observability', ['--web.enable-remote-write-receiver']);
    services = lab.services;
    prometheusUrl = lab.prometheusUrl;

    // Real traffic for ~12 s: a good user and a bad actor through the edge, plus data requests
    // through the balancer, so every series the board reads has moved.
    const edge = services.limiter.url;
    const until = Date.now() + 12_000;
    const send = async (url: string, init: RequestInit) => {
      try {
        const response = await fetch(url, init);
        await response.arrayBuffer();
      } catch {
        // counted by the services themselves
      }
    };
    let i = 0;
    while (Date.now() < until) {
      i++;
      await Promise.all([
        send(`${edge}/health`, { headers: { 'x-api-key': 'good-user' } }),
        ...Array.from({ length: 5 }, () =>
          send(`${edge}/data`, {
            method: 'POST',
            headers: { 'x-api-key': 'bad-actor', 'content-type': 'application/json' },
            body: JSON.stringify({ key: `bad-${i}`, value: 'flood' }),
          }),
        ),
        send(`${services.balancer.url}/data/item-${i % 10}`, {}),
        // make polite's pair (the board's polite-vs-naive row): the naive one over its quota.
        ...['naive-client', 'naive-client', 'naive-client', 'polite-client'].map((key) =>
          send(`${edge}/health`, { headers: { 'x-api-key': key } }),
        ),
      ]);
      await sleep(100);
    }
  }, 120_000);

  afterAll(() => lab?.stop(), 60_000);

  it('scrapes all five services (up == 1)', async () => {
    let up: unknown[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      up = (await query('up == 1')).data?.result ?? [];
      if (up.length === 5) break;
      await sleep(1_000);
    }
    expect(up, lab?.log()).toHaveLength(5);
  });

  for (const panel of PANELS.filter((p) => !p.k6)) {
    it(`panel "${panel.title}": every query returns a series`, async () => {
      for (const { expr } of panel.queries) {
        let result: Awaited<ReturnType<typeof query>> = { status: 'none' };
        // Rates need two scrapes inside the window; give Prometheus a few more.
        for (let attempt = 0; attempt < 15; attempt++) {
          result = await query(expr);
          if (result.status === 'success' && (result.data?.result.length ?? 0) > 0) break;
          await sleep(1_000);
        }
        expect(result.status, `${expr}: ${result.error}`).toBe('success');
        expect(result.data?.result.length, `no series for ${expr}`).toBeGreaterThan(0);
      }
    });
  }

  it('accepts every k6 panel query (no parse error)', async () => {
    for (const panel of PANELS.filter((p) => p.k6)) {
      for (const { expr } of panel.queries) {
        const result = await query(expr);
        expect(result.status, `${panel.title}: ${expr}: ${result.error}`).toBe('success');
      }
    }
  });

  it("finds every metric the board reads (k6's aside) in the services' /metrics", async () => {
    const exposition = (
      await Promise.all(
        Object.values(services).map(async (s: ServiceProcess) => (await fetch(`${s.url}/metrics`)).text()),
      )
    ).join('\n');
    const exposed = new Set(
      exposition
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => line.split(/[{ ]/)[0]),
    );
    const used = PANELS.filter((p) => !p.k6).flatMap((p) => p.queries.flatMap((q) => metricNames(q.expr)));
    expect(used.length).toBeGreaterThan(5);
    for (const name of used) expect(exposed, name).toContain(name);
  });
});
