/**
 * @module
 * The compose target: the running compose lab's node containers, killed with `docker kill`
 * and started again with `docker start`, like `make kill` / `make revive`. The containers are
 * found by the Makefile itself (`make chaos-nodes`, the same lookup as `make kill`), so the
 * base and the scaled topology, the project name and the compose command all follow it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ChaosNode, ChaosTarget } from './target.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface ComposeNode extends ChaosNode {
  container: string;
}

async function run(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { cwd: ROOT, timeout: 60_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** The container's addresses as the scaled balancer names its upstreams (`ip:8080`). */
async function addresses(container: string): Promise<string[]> {
  const out = await run('docker', [
    'inspect',
    '-f',
    '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
    container,
  ]);
  return out
    .split(/\s+/)
    .filter(Boolean)
    .map((ip) => `${ip}:8080`);
}

export interface ComposeTargetOptions {
  edge: string;
  balancer: string;
  token: string;
}

/** Finds the node containers of the running compose lab. @throws when there are none */
export async function composeTarget(options: ComposeTargetOptions): Promise<ChaosTarget> {
  const listing = await run('make', ['--no-print-directory', '-s', 'chaos-nodes']);
  const nodes: ComposeNode[] = [];
  for (const line of listing.split('\n')) {
    const [name, container] = line.trim().split(/\s+/);
    if (!name || !container) continue;
    nodes.push({ name, container, upstreams: [name, ...(await addresses(container))] });
  }
  if (nodes.length === 0)
    throw new Error('no node containers found: is the compose lab running? (make up; or --target local)');
  return {
    kind: 'compose',
    nodes,
    ...options,
    async kill(node) {
      await run('docker', ['kill', '-s', 'SIGKILL', (node as ComposeNode).container]);
    },
    async start(node) {
      const n = node as ComposeNode;
      await run('docker', ['start', n.container]);
      // A restarted container may get another address (the scaled balancer finds it by DNS).
      n.upstreams = [n.name, ...(await addresses(n.container))];
    },
    close: async () => {},
  };
}
