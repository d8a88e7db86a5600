/**
 * @module
 * `npm run incident -- <name>` (an incident of loadtests/scenarios.json, `-` for `_`, e.g.
 * `noisy-customer`): the Node fallback of `make incident-<name>` when k6 cannot run here
 * (same scenario data, same phases, same fix).
 *
 * Flags: `--limiter URL` (default $LIMITER_URL or :8080), `--nodes URL,URL,URL` (default
 * $NODE_URLS or :5001–5003; their admin API sets the CPU load; `none` to skip), `--token` (default
 * $ADMIN_TOKEN or lab-admin), `--phase 15s`, `--scale 1` (multiply the rates).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { incidentNames, loadScenarios } from '../services/traffic/scenarios.js';
import { renderIncidentReport } from './incidents/report.js';
import { runIncident } from './incidents/run.js';
import { durationFlag, interruptSignal, numberFlag, runCli, UsageError, urlFlag } from './traffic/cli.js';

const NAMES = incidentNames(loadScenarios());

const USAGE = `usage: npm run incident -- <${NAMES.join('|')}> [--limiter URL] [--nodes URL,URL,URL|none] [--token T] [--phase 15s] [--scale 1]`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCli('incident', async () => {
    const { values, positionals } = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        limiter: { type: 'string' },
        nodes: { type: 'string' },
        token: { type: 'string' },
        phase: { type: 'string' },
        scale: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const name = positionals[0] ?? '';
    if (!NAMES.includes(name)) throw new UsageError(`which incident? ${USAGE}`);
    const env = process.env;
    const nodeList =
      values.nodes ?? env.NODE_URLS ?? 'http://127.0.0.1:5001,http://127.0.0.1:5002,http://127.0.0.1:5003';
    // `none`: the nodes' admin API is not reachable from here (the compose lab publishes no node
    // ports); give them load yourself first (make slow NODE=n LOAD=29 for each node).
    const nodes = nodeList === 'none' ? [] : nodeList.split(',').map((u) => urlFlag('nodes', u.trim(), ''));
    const interrupt = interruptSignal();
    try {
      const result = await runIncident(name, {
        limiter: urlFlag('limiter', values.limiter, env.LIMITER_URL ?? 'http://127.0.0.1:8080'),
        nodes,
        token: values.token ?? env.ADMIN_TOKEN ?? 'lab-admin',
        ...(values.phase ? { phaseMs: durationFlag('phase', values.phase, 15_000) } : {}),
        scale: numberFlag('scale', values.scale, 1, 100),
        signal: interrupt.signal,
        log: (line) => process.stdout.write(`· ${line}\n`),
      });
      process.stdout.write(
        `\n${renderIncidentReport(result.name, result.before, result.after, result.watch)}\n`,
      );
      return result.aborted ? 130 : 0;
    } finally {
      interrupt.dispose();
    }
  });
}
