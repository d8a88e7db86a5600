/** Compiles `dist/` once before the process-level tests start the real services from it. */
import { execFileSync } from 'node:child_process';

export default function build() {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
