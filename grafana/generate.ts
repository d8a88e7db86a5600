/**
 * @module
 * `npm run dashboards`: writes the generated boards to grafana/dashboards/*.json,
 * which are committed and provisioned (grafana/provisioning/dashboards/lab.yaml).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderLabBoard } from './lab-board.js';

export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');

/** Every generated board: file name → content. */
export const BOARDS: Record<string, () => string> = { 'lab.json': renderLabBoard };

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(DASHBOARD_DIR, { recursive: true });
  for (const [file, render] of Object.entries(BOARDS)) {
    writeFileSync(join(DASHBOARD_DIR, file), render());
    process.stdout.write(`wrote grafana/dashboards/${file}\n`);
  }
}
