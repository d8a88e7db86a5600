/**
 * `npm run lab` as a learner runs it: every service healthy, the console's kill and revive
 * carried out by the lab runner, then Ctrl-C (SIGINT to the whole process group, as a
 * terminal sends it) leaves no process behind.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { processesMatching, startLab } from './helpers/processes.js';

describe('npm run lab', () => {
  it('starts every service healthy and stops them all on Ctrl-C', async () => {
    // Below the ephemeral range (32768+), so no outgoing connection holds one of these ports.
    const offset = 10_000 + Math.floor(Math.random() * 600) * 10;
    const lab = startLab('npm', ['run', 'lab', '--', '--port-offset', String(offset)], {
      ADMIN_TOKEN: 'lab-test-token',
    });

    try {
      await lab.healthy();
      const output = lab.output();
      expect(output).toMatch(/admin token: lab-test-token/);

      const urls = [...output.matchAll(/^\s+(\S+)\s+(http:\/\/127\.0\.0\.1:(\d+))$/gm)].map((m) => ({
        name: m[1] as string,
        url: m[2] as string,
        port: m[3] as string,
      }));
      expect(urls.map((u) => u.name)).toEqual(expect.arrayContaining(['node-1', 'node-2', 'node-3']));
      for (const { name, url } of urls) {
        const health = await fetch(`${url}${name.startsWith('node') ? '/health' : '/healthz'}`);
        expect(health.status, name).toBe(200);
      }
      expect(processesMatching('dist/main.js', `--port ${urls[0]?.port}`)).toHaveLength(1);

      // The console the lab started kills and revives a node through the lab runner.
      const consoleUrl = urls.find((u) => u.name === 'console')?.url;
      const nodeControl = async (action: string) => {
        const response = await fetch(`${consoleUrl}/api/nodes/node-2/${action}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        expect(response.status, `${action}: ${await response.clone().text()}`).toBe(200);
        const { nodes } = (await response.json()) as { nodes: { name: string; reachable: boolean }[] };
        return nodes.find((n) => n.name === 'node-2')?.reachable;
      };
      const node2 = urls.find((u) => u.name === 'node-2')?.port;
      expect(await nodeControl('kill')).toBe(false);
      expect(processesMatching('dist/main.js', `--port ${node2}`)).toEqual([]);
      expect(await nodeControl('revive')).toBe(true);
      expect(processesMatching('dist/main.js', `--port ${node2}`)).toHaveLength(1);

      process.kill(-(lab.proc.pid as number), 'SIGINT');
      // npm itself dies of the SIGINT, as in a terminal; the lab runner below it exits 0.
      expect([0, 'SIGINT']).toContain(await lab.closed);
      expect(lab.output(), lab.output().slice(-3000)).toMatch(/lab: stopped \d+ service\(s\)/);
      for (const { port } of urls) {
        expect(processesMatching('dist/main.js', `--port ${port}`), `port ${port}`).toEqual([]);
      }
    } finally {
      try {
        process.kill(-(lab.proc.pid as number), 'SIGKILL'); // whatever is left of the group, if anything
      } catch {
        // nothing left: the normal case
      }
    }
  }, 180_000); // `npm run lab` compiles first

  it('refuses to start, naming the port, when one is taken', async () => {
    const { createServer } = await import('node:net');
    const offset = 17_000 + Math.floor(Math.random() * 600) * 10;
    const blocker = createServer().listen(5002 + offset, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const lab = spawn('npx', ['tsx', 'tools/lab.ts', '--port-offset', String(offset)], { stdio: 'pipe' });
      let stderr = '';
      lab.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const code = await new Promise((resolve) => lab.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toMatch(new RegExp(`port\\(s\\) already in use: ${5002 + offset} \\(node-2\\)`));
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });
});
