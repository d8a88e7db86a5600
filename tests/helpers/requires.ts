/**
 * @module
 * What a process suite needs from the machine (redis-server, prometheus, a Linux host that
 * can build the offline images, ...), so that `npm test` on a laptop skips a suite whose
 * component is missing with ONE line naming it and the command that installs it, instead of
 * failing deep inside a `spawn`. With CI=true nothing is skipped: the same message fails
 * the suite. Skips are appended to the file tests/setup/requirements.ts names, which prints
 * them as a summary at the end of the run.
 *
 * Outside CI, LAB_TESTS_PRETEND_MISSING=redis-server,prometheus treats those components as
 * missing (to see the skip path on a machine that has them); CI ignores it.
 */

import { spawnSync } from 'node:child_process';
import { accessSync, appendFileSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Requirement {
  /** What the suite needs, as the skip line names it. */
  name: string;
  /** The command that installs it on Debian/Ubuntu (`make setup` installs them all). */
  install: string;
  /** Why it is not usable here, or undefined when it is. */
  missing(): string | undefined;
}

const CI = process.env.CI === 'true';
const pretendMissing = new Set(
  CI ? [] : (process.env.LAB_TESTS_PRETEND_MISSING ?? '').split(',').map((name) => name.trim()),
);

/** Where a program of that name is on the PATH, if anywhere. */
function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** A program the suite runs, from the Debian package `apt`. */
function program(name: string, apt = name): Requirement {
  return {
    name,
    install: `sudo apt-get install ${apt}`,
    missing: () => (pretendMissing.has(name) || !onPath(name) ? `${name} is not on the PATH` : undefined),
  };
}

export const REDIS_SERVER = program('redis-server');
export const PROMETHEUS = program('prometheus');
export const PROMTOOL = program('promtool', 'prometheus');
/** Debian's Chromium, driven headless through playwright-core by the console test. */
export const CHROMIUM = program('chromium');
/** The compose CLI the config checks run (`docker-compose config`): a CLI only, no engine. */
export const DOCKER_COMPOSE_CLI = program('docker-compose');

/**
 * `make offline-images` (docker/offline/build.sh) copies this host's binaries and their
 * shared libraries into `FROM scratch` images: it needs a Linux host with a static busybox,
 * `ldd`, node, prometheus and redis-server. Docker Desktop on macOS has none of that.
 */
export const OFFLINE_IMAGE_HOST: Requirement = {
  name: 'a Linux host that can build the offline images',
  install: 'sudo apt-get install busybox-static prometheus redis-server',
  missing() {
    if (pretendMissing.has('offline-images')) return 'offline-images pretended missing';
    if (process.platform !== 'linux')
      return `make offline-images copies Linux binaries into the images; this host is ${process.platform}`;
    const busybox = process.env.BUSYBOX ?? '/bin/busybox';
    const absent = ['ldd', 'node', 'prometheus', 'redis-server'].filter((name) => !onPath(name));
    if (absent.length > 0) return `${absent.join(', ')} not on the PATH`;
    const dynamic = !existsSync(busybox) || spawnSync('ldd', [busybox], { stdio: 'ignore' }).status === 0;
    return dynamic ? `${busybox} is not a static busybox` : undefined;
  },
};

/** The reason line for the first unmet requirement, with its install command. */
function unmetReason(requirements: Requirement[]): string | undefined {
  for (const requirement of requirements) {
    const why = requirement.missing();
    if (why) return `needs ${requirement.name} (${why}); install: ${requirement.install}, or make setup`;
  }
  return undefined;
}

/** Adds a skipped suite to the run's summary (never in CI, where nothing is skipped). */
function recordSkip(suite: string, reason: string): void {
  const file = process.env.LAB_TESTS_SKIPPED_FILE;
  if (!CI && file) appendFileSync(file, `${JSON.stringify({ suite, reason })}\n`);
}

/**
 * @returns true when the suite must be skipped (one line printed, recorded for the summary);
 * in CI an unmet requirement throws instead, failing the suite with the same message.
 * @example
 * describe.skipIf(skipWithout('limiter-redis test', [REDIS_SERVER]))('...', () => { ... });
 */
export function skipWithout(suite: string, requirements: Requirement[]): boolean {
  const reason = unmetReason(requirements);
  if (!reason) return false;
  const line = `${suite} skipped: ${reason}`;
  if (CI) throw new Error(`${suite} cannot run in CI: ${reason}`);
  process.stderr.write(`${line}\n`);
  recordSkip(suite, reason);
  return true;
}

/**
 * For a suite with its own skip and CI-failure path (the compose test): checks the
 * requirements, then `acquire`s what the suite runs on. @returns that, or the reason it
 * cannot (a string, recorded for the summary outside CI).
 */
export async function acquireOrReason<T>(
  suite: string,
  requirements: Requirement[],
  acquire: () => Promise<T | string>,
): Promise<T | string> {
  const acquired = unmetReason(requirements) ?? (await acquire());
  if (typeof acquired === 'string') recordSkip(suite, acquired);
  return acquired;
}
