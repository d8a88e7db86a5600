/**
 * @module
 * The one entry point of the image and of the local lab:
 * `node dist/main.js <node|balancer|limiter|console> [--flag value ...]`.
 * Flags mirror the environment variables (`--load-factor` ↔ `LOAD_FACTOR`).
 */
import { ConfigError } from './shared/config.js';
import { fixOldGenerationGrowth } from './shared/runtime.js';
import { PortInUseError } from './shared/server.js';

fixOldGenerationGrowth();

/** Each role's `run(argv, env)`, loaded only when chosen. */
const roles = {
  node: () => import('./node/main.js'),
  balancer: () => import('./balancer/main.js'),
  limiter: () => import('./limiter/main.js'),
  console: () => import('./console/main.js'),
} satisfies Record<string, () => Promise<{ run(argv: readonly string[]): Promise<unknown> }>>;

export type Role = keyof typeof roles;

const [role, ...argv] = process.argv.slice(2);

if (!role || !(role in roles)) {
  process.stderr.write(
    `usage: node dist/main.js <${Object.keys(roles).join('|')}> [--flag value ...]\n` +
      (role ? `unknown role "${role}"\n` : ''),
  );
  process.exit(2);
}

try {
  await (await roles[role as Role]()).run(argv);
} catch (error) {
  if (error instanceof ConfigError || error instanceof PortInUseError) {
    process.stderr.write(`${role}: ${error.message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
  throw error;
}
