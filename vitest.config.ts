import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Bounds on waits for events, not margins: on a loaded machine a CLI process alone takes seconds to start.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Tests start real servers and processes; two workers match the 2-core machines we run on.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
