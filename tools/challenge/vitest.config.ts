import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run challenge`: only the challenge suite, from the repository root.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['tools/challenge/*.challenge.ts'],
    // Every rule listed with ✓ or ×, so a learner sees which one is still missing.
    reporters: ['verbose'],
  },
});
