/**
 * The five services as local processes, scraped by Debian's `prometheus` with the
 * project's prometheus/prometheus.yml: only its targets are rewritten (compose names →
 * local ports), so the scrape interval and jobs are the ones the lab ships.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type ServiceProcess, startRole, stopAll, waitForHttp } from './processes.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export type LabService = 'node-1' | 'node-2' | 'node-3' | 'balancer' | 'limiter';

export interface ScrapedLab {
  /** Each service by its compose name; a test may replace one (a restarted node). */
  services: Record<LabService, ServiceProcess>;
  prometheusUrl: string;
  /** The tail of Prometheus's log, for failure messages. */
  log(): string;
  /** Stops Prometheus and every service, and removes the working directory. */
  stop(): Promise<void>;
}

/**
 * Starts the lab (nodes `--id node-N`, the balancer, the limiter with docker/policies.yaml)
 * and a Prometheus scraping it, and waits until Prometheus is ready.
 * @param name - names the working directory (`lab-<name>-*` under the temp dir)
 * @param prometheusFlags - extra flags, e.g. `--web.enable-remote-write-receiver`
 */
export async function startScrapedLab(name: string, prometheusFlags: string[] = []): Promise<ScrapedLab> {
  const nodes = [];
  for (const n of [1, 2, 3]) nodes.push(await startRole('node', ['--id', `node-${n}`]));
  const [node1, node2, node3] = nodes as [ServiceProcess, ServiceProcess, ServiceProcess];
  const upstreams = `node-1=${node1.url},node-2=${node2.url},node-3=${node3.url}`;
  const balancer = await startRole('balancer', [], { UPSTREAMS: upstreams });
  const limiter = await startRole('limiter', [], {
    UPSTREAM: balancer.url,
    RATE_LIMIT_POLICIES: join(ROOT, 'docker/policies.yaml'),
  });
  const services = { 'node-1': node1, 'node-2': node2, 'node-3': node3, balancer, limiter };

  const workDir = mkdtempSync(join(tmpdir(), `lab-${name}-`));
  let config = readFileSync(join(ROOT, 'prometheus/prometheus.yml'), 'utf8');
  for (const [service, process] of Object.entries(services)) {
    const rewritten = config.replaceAll(`${service}:8080`, `127.0.0.1:${process.port}`);
    if (rewritten === config) throw new Error(`no target ${service}:8080 in prometheus/prometheus.yml`);
    config = rewritten;
  }
  writeFileSync(join(workDir, 'prometheus.yml'), config);
  const port = await freePort();
  const prometheusUrl = `http://127.0.0.1:${port}`;
  const prometheus: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(workDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(workDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...prometheusFlags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  prometheus.stderr?.on('data', (chunk) => {
    log = (log + chunk).slice(-20_000);
  });

  const stop = async () => {
    if (prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
  };
  await waitForHttp(`${prometheusUrl}/-/ready`, 30_000).catch(async (error) => {
    await stop();
    throw new Error(`${error}\n${log}`);
  });
  return { services, prometheusUrl, log: () => log, stop };
}
