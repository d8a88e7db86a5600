/**
 * @module
 * What a result was measured on: cores, CPU model, kernel, load, and the versions of
 * every program a case may start or drive (absent ones are `null`).
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

function version(command: string, args: string[], pattern: RegExp): string | null {
  try {
    // nginx -v and redis-server -v differ on stdout/stderr: read both.
    const out = execFileSync(
      'sh',
      ['-c', `command -v ${command} >/dev/null && ${command} ${args.join(' ')} 2>&1; true`],
      { timeout: 5000 },
    ).toString();
    if (!out.trim()) return null;
    return pattern.exec(out)?.[1] ?? out.trim().split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

function gitCommit(): string | null {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync(
      'git',
      ['status', '--porcelain', '--untracked-files=no', 'services', 'bench'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    )
      .toString()
      .trim();
    return dirty ? `${sha} (uncommitted changes in services/ or bench/)` : sha;
  } catch {
    return null;
  }
}

export interface Machine {
  cores: number;
  cpuModel: string;
  kernel: string;
  memoryGiB: number;
  /** 1, 5 and 15-minute load averages when the run started. */
  loadAverage: number[];
  commit: string | null;
  versions: Record<string, string | null>;
}

export function machine(): Machine {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    commit: gitCommit(),
    versions: {
      node: process.version,
      wrk: version('wrk', ['-v'], /wrk (\S+)/),
      nginx: version('nginx', ['-v'], /nginx\/(\S+)/),
      haproxy: version('haproxy', ['-v'], /version (\S+)/),
      'redis-server': version('redis-server', ['-v'], /v=(\S+)/),
    },
  };
}

/** One line for the top of the output. */
export function describe(m: Machine): string {
  const v = Object.entries(m.versions)
    .map(([k, x]) => `${k} ${x ?? '(absent)'}`)
    .join(', ');
  return `${m.cores} cores (${m.cpuModel}), kernel ${m.kernel}, load ${m.loadAverage.join(' ')}; ${v}; commit ${m.commit ?? '?'}`;
}
