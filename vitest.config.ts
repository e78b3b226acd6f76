import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One file at a time within one vitest: end-to-end files drive one Docker engine. `npm test`
    // (scripts/test.mjs) runs two vitests at once instead, in lanes that keep the files apart.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
