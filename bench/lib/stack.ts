/**
 * @module
 * The lab's services as benchmark processes (nodes, balancer, limiter from `dist/`),
 * nginx with a generated config, and a Prometheus-text reader for the services'
 * counters. Every process is stopped by the case's `defer`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceProcess } from '../../tests/helpers/processes.js';
import { freePort, spawnRole, startExternal, waitForHttp } from './processes.js';
import type { BenchContext } from './types.js';

export type { ServiceProcess };

async function role(
  ctx: BenchContext,
  name: string,
  args: string[],
  env: Record<string, string>,
  health: string,
) {
  const port = await freePort();
  // One event loop unless a case asks for more (`--workers` wins): the comparisons are
  // with one nginx/HAProxy worker and one bare node:http process.
  const service = spawnRole(name, ['--port', String(port), ...args], {
    LOG_LEVEL: 'warn',
    WORKERS: '1',
    ...env,
  });
  ctx.defer(() => service.stop().then(() => {}));
  await waitForHttp(`${service.url}${health}`, 20_000, service);
  return service;
}

/** Three nodes (ids 1–3); returns their base URLs. */
export async function startNodes(ctx: BenchContext, count = 3): Promise<string[]> {
  const urls: string[] = [];
  for (let id = 1; id <= count; id++)
    urls.push((await role(ctx, 'node', ['--id', String(id)], {}, '/health')).url);
  return urls;
}

/** Our balancer, round robin over `upstreams`. */
export function startBalancer(ctx: BenchContext, upstreams: string[], env: Record<string, string> = {}) {
  return role(
    ctx,
    'balancer',
    [],
    { UPSTREAMS: upstreams.join(','), LB_STRATEGY: 'round-robin', ...env },
    '/healthz',
  );
}

/** Our limiter in front of `upstream`, with `policies` (YAML text) as its policies file. */
export function startLimiter(
  ctx: BenchContext,
  policies: string,
  upstream: string,
  env: Record<string, string> = {},
  args: string[] = [],
) {
  const file = join(ctx.tmpDir, `policies-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, policies);
  return role(ctx, 'limiter', args, { UPSTREAM: upstream, RATE_LIMIT_POLICIES: file, ...env }, '/healthz');
}

/** The `http {}` preamble every generated nginx config shares: no access log, temp paths in `dir`. */
export function nginxHttpPreamble(dir: string): string {
  return `  access_log off;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;`;
}

/**
 * Starts nginx in the foreground with `config` (written to `<tmpDir>/<name>.conf`) and
 * waits until `probePath` answers anything on `port`. Returns the master's pid (its
 * worker is its child, so tree CPU counts both).
 */
export async function startNginx(
  ctx: BenchContext,
  name: string,
  port: number,
  config: string,
  probePath = '/',
) {
  const conf = join(ctx.tmpDir, `${name}.conf`);
  writeFileSync(conf, config);
  const nginx = startExternal('nginx', [
    '-c',
    conf,
    '-p',
    ctx.tmpDir,
    '-e',
    join(ctx.tmpDir, `${name}-error.log`),
  ]);
  ctx.defer(() => nginx.stop());
  const url = `http://127.0.0.1:${port}${probePath}`;
  for (let i = 0; i < 200; i++) {
    const up = await fetch(url).then(
      (r) => r.arrayBuffer().then(() => true),
      () => false,
    );
    if (up) return nginx.proc.pid as number;
    if (nginx.proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx (${name}) did not start: ${nginx.output()}`);
}

/** Sum of the samples of `metric` in Prometheus `text` whose labels include every `labels` pair. */
export function sumSamples(text: string, metric: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== metric) continue;
    const have = new Map<string, string>();
    for (const pair of (match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      have.set(pair[1] as string, pair[2] as string);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(match[4]);
  }
  return sum;
}

/** {@link sumSamples} of a fresh scrape of `url`. */
export async function scrapeSum(
  url: string,
  metric: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sumSamples(await fetch(url).then((r) => r.text()), metric, labels);
}
