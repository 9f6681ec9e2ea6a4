import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests start real MariaDB servers; two cores take two files at a time.
    maxWorkers: 2,
    // Child processes, not threads: each worker must start with NODE_EXTRA_CA_CERTS set by global-setup.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // oclif writes through process.stdout; vitest must not swallow it.
    disableConsoleIntercept: true,
    reporters: ['default', './test/summary-reporter.ts'],
  },
})
