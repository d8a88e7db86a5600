import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adminApp, type LiveConfig } from './admin.js';
import { createConfigChanges, diffSettings, flattenSettings, MAX_VALUE_LENGTH } from './config-changes.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';

/** `lab_config_change_timestamp_seconds` series as {setting, from, to, value}. */
async function changeSeries(registry: Registry) {
  const metric = (await registry.getMetricsAsJSON()).find(
    (m) => m.name === 'lab_config_change_timestamp_seconds',
  );
  return (metric?.values ?? []).map((v) => {
    const { setting, from, to } = v.labels as Record<string, string>;
    return { setting, from, to, value: v.value };
  });
}

async function generation(registry: Registry) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'lab_config_generation');
  return metric?.values[0]?.value;
}

describe('diffSettings', () => {
  it('lists each changed setting once, sorted, with absent ones as "none"', () => {
    expect(
      diffSettings(
        { strategy: 'round-robin', 'weight node-1': '1', 'policy gone': 'exempt' },
        { strategy: 'least-connections', 'weight node-1': '1', 'policy new': 'gcra 5/1s' },
      ),
    ).toEqual([
      { setting: 'policy gone', from: 'exempt', to: 'none' },
      { setting: 'policy new', from: 'none', to: 'gcra 5/1s' },
      { setting: 'strategy', from: 'round-robin', to: 'least-connections' },
    ]);
  });

  it('finds nothing when nothing changed', () => {
    expect(diffSettings({ a: '1' }, { a: '1' })).toEqual([]);
  });
});

describe('flattenSettings', () => {
  it('names every scalar by its path; arrays as JSON', () => {
    expect(flattenSettings({ a: 1, b: { c: 'x', d: null }, e: [1, 2] })).toEqual({
      a: '1',
      'b.c': 'x',
      'b.d': 'null',
      e: '[1,2]',
    });
  });
});

describe('createConfigChanges', () => {
  it('counts generations and stamps each change with the injected clock', async () => {
    const registry = new Registry();
    let now = 1_700_000_000_000;
    const changes = createConfigChanges(registry, { now: () => now });
    expect(await generation(registry)).toBe(0);
    changes.record([]);
    expect(await generation(registry)).toBe(0);
    changes.record([
      { setting: 'strategy', from: 'round-robin', to: 'least-connections' },
      { setting: 'weight node-1', from: '1', to: '3' },
    ]);
    now += 5_000;
    changes.record([{ setting: 'strategy', from: 'least-connections', to: 'random' }]);
    expect(changes.generation).toBe(2);
    expect(await generation(registry)).toBe(2);
    expect(await changeSeries(registry)).toEqual([
      { setting: 'strategy', from: 'round-robin', to: 'least-connections', value: 1_700_000_000 },
      { setting: 'weight node-1', from: '1', to: '3', value: 1_700_000_000 },
      { setting: 'strategy', from: 'least-connections', to: 'random', value: 1_700_000_005 },
    ]);
  });

  it('moves a repeated change to its new time instead of adding a series', async () => {
    const registry = new Registry();
    let now = 1_000_000;
    const changes = createConfigChanges(registry, { now: () => now });
    changes.record([{ setting: 'strategy', from: 'a', to: 'b' }]);
    now += 1_000;
    changes.record([{ setting: 'strategy', from: 'b', to: 'a' }]);
    now += 1_000;
    changes.record([{ setting: 'strategy', from: 'a', to: 'b' }]);
    expect((await changeSeries(registry)).sort((x, y) => x.value - y.value)).toEqual([
      { setting: 'strategy', from: 'b', to: 'a', value: 1_001 },
      { setting: 'strategy', from: 'a', to: 'b', value: 1_002 },
    ]);
  });

  it('keeps only the latest changes per setting and in all, and cuts long values', async () => {
    const registry = new Registry();
    let now = 0;
    const changes = createConfigChanges(registry, { now: () => now, perSetting: 2, maxSeries: 3 });
    for (let i = 0; i < 5; i++) {
      now += 1_000;
      changes.record([{ setting: 'load factor', from: String(i), to: String(i + 1) }]);
    }
    expect((await changeSeries(registry)).map((s) => s.to)).toEqual(['4', '5']);
    now += 1_000;
    changes.record([
      { setting: 'latency', from: '0 ms', to: 'x'.repeat(500) },
      { setting: 'fail rate', from: '0', to: '0.5' },
    ]);
    const series = await changeSeries(registry);
    expect(series.map((s) => s.setting)).toEqual(['load factor', 'latency', 'fail rate']);
    const long = series.find((s) => s.setting === 'latency')?.to ?? '';
    expect(long).toHaveLength(MAX_VALUE_LENGTH);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('PUT /admin/config records what changed', () => {
  const update = z.object({ speed: z.number(), mode: z.string() }).partial().strict();

  function build(named: boolean) {
    const state = { speed: 1, mode: 'a', nested: { depth: 2 } };
    const live: LiveConfig<typeof update> = {
      get: () => structuredClone(state),
      update,
      apply(patch) {
        Object.assign(state, patch);
      },
      ...(named ? { settings: () => ({ 'top speed': `${state.speed} km/h` }) } : {}),
    };
    const metrics = createMetrics('test', {
      registry: new Registry(),
      defaultMetrics: false,
      now: () => 42_000,
    });
    const app = new Hono();
    app.route(
      '/admin',
      adminApp({ token: 't', live, log: createLogger('test', 'silent'), changes: metrics.configChanges }),
    );
    const put = (body: unknown) =>
      app.request('/admin/config', {
        method: 'PUT',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    return { put, registry: metrics.registry };
  }

  it("uses the service's named settings", async () => {
    const { put, registry } = build(true);
    expect((await put({ speed: 3, mode: 'b' })).status).toBe(200);
    expect(await changeSeries(registry)).toEqual([
      { setting: 'top speed', from: '1 km/h', to: '3 km/h', value: 42 },
    ]);
    expect(await generation(registry)).toBe(1);
  });

  it('falls back to the paths of the effective config', async () => {
    const { put, registry } = build(false);
    await put({ mode: 'b' });
    expect(await changeSeries(registry)).toEqual([{ setting: 'mode', from: 'a', to: 'b', value: 42 }]);
  });

  it('records nothing for an update that changes nothing, or a refused one', async () => {
    const { put, registry } = build(true);
    expect((await put({ speed: 1 })).status).toBe(200);
    expect((await put({ speed: 'fast' })).status).toBe(400);
    expect(await changeSeries(registry)).toEqual([]);
    expect(await generation(registry)).toBe(0);
  });
});
