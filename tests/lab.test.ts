/**
 * `npm run lab` as a learner runs it: every service healthy, then Ctrl-C (SIGINT to the
 * whole process group, as a terminal sends it) leaves no process behind.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { processesMatching } from './helpers/processes.js';

describe('npm run lab', () => {
  it('starts every service healthy and stops them all on Ctrl-C', async () => {
    // Below the ephemeral range (32768+), so no outgoing connection holds one of these ports.
    const offset = 10_000 + Math.floor(Math.random() * 600) * 10;
    const lab = spawn('npm', ['run', 'lab', '--', '--port-offset', String(offset)], {
      detached: true, // its own process group, like a terminal's foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ADMIN_TOKEN: 'lab-test-token' },
    });
    let output = '';
    lab.stdout.on('data', (chunk) => {
      output += chunk;
    });
    lab.stderr.on('data', (chunk) => {
      output += chunk;
    });
    // npm itself dies of the SIGINT, as in a terminal; the lab runner below it exits 0.
    // 'close' waits for everyone holding the output pipes: npm, tsx, the lab and its services.
    const exited = new Promise<number | string | null>((resolve) =>
      lab.once('close', (code, signal) => resolve(code ?? signal)),
    );

    try {
      const deadline = Date.now() + 90_000;
      while (!/all \d+ services healthy/.test(output) && Date.now() < deadline && lab.exitCode === null) {
        await sleep(100);
      }
      expect(output).toMatch(/all \d+ services healthy/);
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

      process.kill(-(lab.pid as number), 'SIGINT');
      expect([0, 'SIGINT']).toContain(await exited);
      expect(output, output.slice(-3000)).toMatch(/lab: stopped \d+ service\(s\)/);
      for (const { port } of urls) {
        expect(processesMatching('dist/main.js', `--port ${port}`), `port ${port}`).toEqual([]);
      }
    } finally {
      try {
        process.kill(-(lab.pid as number), 'SIGKILL'); // whatever is left of the group, if anything
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
