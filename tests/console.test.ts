/**
 * The lab console (services/console) in a real headless Chromium (Debian's, driven by
 * playwright-core): nodes, balancer, limiter and console as processes on free ports, traffic
 * started and stopped from the page, a strategy switched in the page and seen in the
 * per-node numbers. The page's state is read from the DOM (its tables and the charts'
 * `data-points` / `data-last`), never from pixels. Screenshots go to tests/artifacts/;
 * `UPDATE_DOCS_SCREENSHOT=1` also writes docs/images/console.png (shown in docs/LAB.md).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type ServiceProcess, startRole, stopAll } from './helpers/processes.js';
import { CHROMIUM, skipWithout } from './helpers/requires.js';

// The callbacks of waitForFunction and $$eval run in Chromium, on the page; the tests'
// TypeScript has no DOM library, so the little they touch is declared here, in this module.
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const DOCS_SCREENSHOT = new URL('../docs/images/console.png', import.meta.url).pathname;
const WAIT = { timeout: 20_000 };

let browser: Browser;
let page: Page;
let console_: ServiceProcess;

const requests = (p: Page) =>
  p.$$eval('#nodes tr[data-node]', (rows) =>
    rows.map((row) => Number((row as PageElement).dataset.requests)),
  );

describe.skipIf(skipWithout('console test', [CHROMIUM]))('the lab console in a real Chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const nodes = await Promise.all([1, 2, 3].map((id) => startRole('node', ['--id', String(id)])));
    const balancer = await startRole('balancer', ['--upstreams', nodes.map((n) => n.url).join(',')]);
    const limiter = await startRole('limiter', [
      '--upstream',
      balancer.url,
      '--rate-limit-policies',
      'config/policies.yaml',
    ]);
    console_ = await startRole('console', [
      '--limiter-url',
      limiter.url,
      '--balancer-url',
      balancer.url,
      '--node-urls',
      nodes.map((n, i) => `node-${i + 1}=${n.url}`).join(','),
    ]);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      // CI runs as root, where Chromium's sandbox cannot start; a container's /dev/shm may be
      // too small for its shared memory.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    await page.goto(`${console_.url}/`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopAll();
  });

  it('loads and shows the lab as the services describe it', async () => {
    await page.waitForFunction(() => document.querySelector('#connection')?.textContent === 'live', WAIT);
    await page.waitForFunction(() => Number(document.querySelector('main')?.dataset.snapshots) > 1, WAIT);
    expect(await page.textContent('#strategy')).toBe('round-robin');
    expect(await page.textContent('#algorithm')).toBe('token-bucket');
    expect(
      await page.$$eval('#nodes tr[data-node]', (rows) => rows.map((r) => (r as PageElement).dataset.node)),
    ).toEqual(['node-1', 'node-2', 'node-3']);
    expect(await page.textContent('#policies')).toContain('good-user');
    expect(await page.$$eval('#strategy-select option', (o) => o.length)).toBe(7);
    // Started by this test, not by the lab runner: kill and revive are off, and the page says why.
    expect(await page.isDisabled('#nodes tr[data-node="node-2"] button[data-action="kill"]')).toBe(true);
    expect(await page.textContent('#kill-reason')).toContain('make kill NODE=2');
    // The admin token is the console's: it never reaches the page.
    expect(await page.content()).not.toContain(ADMIN_TOKEN);
  });

  it('charts move under traffic started from the page', async () => {
    await page.fill('tr[data-actor="good_user"] input', '20');
    await page.click('tr[data-actor="good_user"] button');
    await page.click('tr[data-actor="bad_actor"] button');
    await page.waitForFunction(() => {
      const good = document.querySelector('tr[data-actor="good_user"]')?.dataset;
      const bad = document.querySelector('tr[data-actor="bad_actor"]')?.dataset;
      return Number(good?.ok) >= 20 && Number(bad?.limited) >= 5;
    }, WAIT);
    // Every node answered some of it, and the charts hold points with traffic in them.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('#nodes tr[data-node]')].every(
          (row) => Number(row.dataset.requests) > 0,
        ),
      WAIT,
    );
    const last = async (id: string) =>
      JSON.parse((await page.getAttribute(id, 'data-last')) ?? '{}') as Record<string, number>;
    await page.waitForFunction(() => {
      const last = JSON.parse(document.querySelector('#chart-actors')?.dataset.last ?? '{}');
      return last['good_user 200'] > 0 && last['bad_actor 429'] > 0;
    }, WAIT);
    expect(Number(await page.getAttribute('#chart-nodes', 'data-points'))).toBeGreaterThan(2);
    expect(Object.keys(await last('#chart-nodes'))).toEqual(['node-1', 'node-2', 'node-3']);
    await page.waitForFunction(
      () => JSON.parse(document.querySelector('#chart-latency')?.dataset.last ?? '{}').p95 > 0,
      WAIT,
    );
    expect(await page.textContent('#latency')).toMatch(/^p50 [\d.]+ ms · p95 [\d.]+ ms/);
    await page.screenshot({ path: `${ARTIFACTS}console-traffic.png`, fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1')
      copyFileSync(`${ARTIFACTS}console-traffic.png`, DOCS_SCREENSHOT);
  });

  it('a strategy switched in the page shows in the distribution', async () => {
    // Only the good user: its requests all come from one client address, which consistent
    // hashing sends to one node (the bad actor's body keys would spread over all three).
    await page.click('tr[data-actor="bad_actor"] button');
    await page.waitForFunction(
      () => document.querySelector('tr[data-actor="bad_actor"]')?.dataset.running === 'false',
      WAIT,
    );
    await page.selectOption('#strategy-select', 'consistent-hash');
    await page.click('#strategy-form button');
    await page.waitForFunction(
      () => document.querySelector('#strategy')?.textContent === 'consistent-hash',
      WAIT,
    );
    const before = await requests(page);
    await page.waitForFunction(
      (start) => {
        const now = [...document.querySelectorAll('#nodes tr[data-node]')].map((r) =>
          Number(r.dataset.requests),
        );
        return now.reduce((sum, n, i) => sum + n - (start[i] as number), 0) >= 40;
      },
      before,
      WAIT,
    );
    const grown = (await requests(page)).map((n, i) => n - (before[i] as number));
    const total = grown.reduce((a, b) => a + b, 0);
    // Round robin gave each node a third; now one node answers (nearly) all of it.
    expect(Math.max(...grown) / total, `growth per node since the switch: ${grown}`).toBeGreaterThanOrEqual(
      0.9,
    );
    await page.screenshot({ path: `${ARTIFACTS}console-consistent-hash.png`, fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      copyFileSync(`${ARTIFACTS}console-consistent-hash.png`, DOCS_SCREENSHOT);
    }
  });

  it('stops the traffic from the page, and a closed page leaves no stream behind', async () => {
    await page.click('tr[data-actor="good_user"] button');
    await page.waitForFunction(
      () => document.querySelector('tr[data-actor="good_user"]')?.dataset.running === 'false',
      WAIT,
    );
    const snapshot = (await (await fetch(`${console_.url}/api/snapshot`)).json()) as {
      actors: { name: string; running: boolean }[];
    };
    expect(snapshot.actors.map((a) => [a.name, a.running])).toEqual([
      ['good_user', false],
      ['bad_actor', false],
    ]);
    const streams = async () =>
      /lab_console_event_streams\{[^}]*\} (\d+)/.exec(
        await (await fetch(`${console_.url}/metrics`)).text(),
      )?.[1];
    const second = await browser.newPage();
    await second.goto(`${console_.url}/`);
    await second.waitForFunction(() => Number(document.querySelector('main')?.dataset.snapshots) > 0, WAIT);
    expect(await streams()).toBe('2');
    await second.close();
    await page.close();
    const deadline = Date.now() + 10_000;
    while ((await streams()) !== '0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await streams()).toBe('0');
  });
});
