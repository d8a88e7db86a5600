import { defineConfig } from 'vitest/config';

// Two projects: fast unit/app tests run in parallel; tests that start real processes,
// Prometheus, Redis or Docker run one file at a time so a 2-core machine stays calm.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'services/**/*.test.ts',
            'tools/**/*.test.ts',
            'grafana/**/*.test.ts',
            'loadtests/**/*.test.ts',
            'deploy/**/*.test.ts',
          ],
        },
      },
      {
        test: {
          name: 'processes',
          include: ['tests/**/*.test.ts'],
          globalSetup: ['tests/setup/build.ts', 'tests/setup/requirements.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
