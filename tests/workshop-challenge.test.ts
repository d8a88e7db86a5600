/**
 * `npm run challenge` as a learner runs it: a real vitest process over the challenge suite.
 * It must pass on the reference fixed window (the limiter's registry entry) and fail on
 * deliberately wrong ones, naming the broken rule.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function challenge(impl?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
    delete env.CHALLENGE_IMPL;
    delete env.VITEST;
    delete env.VITEST_POOL_ID;
    delete env.VITEST_WORKER_ID;
    if (impl) env.CHALLENGE_IMPL = impl;
    const child = spawn('npm', ['run', '--silent', 'challenge'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips colour codes
    child.on('close', (code) => resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, '') }));
  });
}

describe('npm run challenge', () => {
  it('passes on the reference implementation registered in the limiter', async () => {
    const { code, output } = await challenge();
    expect(output).toContain('registry entry "fixed-window"');
    // 13 rules on the algorithm, plus the same implementation inside a real limiter (101st → 429).
    expect(output).toMatch(/Tests\s+14 passed/);
    expect(output).toContain('answers the 101st with 429');
    expect(code).toBe(0);
  });

  it('passes on the reference file named explicitly', async () => {
    const { code } = await challenge('services/limiter/algorithms/fixed-window.ts#fixedWindow');
    expect(code).toBe(0);
  });

  it('fails on a fixed window that never resets, naming the reset rule', async () => {
    const { code, output } = await challenge('tools/challenge/wrong/never-resets.ts');
    expect(code).not.toBe(0);
    expect(output).toContain('resets the counter at the next window start');
    expect(output).toMatch(/failed/i);
  });

  it('fails on a fixed window whose counter is shared by every key', async () => {
    const { code, output } = await challenge('tools/challenge/wrong/shared-counter.ts');
    expect(code).not.toBe(0);
    expect(output).toContain('each key has its own counter');
  });
});
