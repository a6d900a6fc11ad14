import { defineConfig } from 'vitest/config';

// Integration tests start real servers (gRPC, Redis, nginx, Envoy, JWKS over HTTP) on free ports;
// two workers match the 2-core machines this runs on. The fault suite holds load while it breaks
// things and bounds every check's time, so it runs last, one file at a time, on a quiet machine.
export default defineConfig({
  test: {
    globalSetup: ['test/setup/envoy.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: ['test/integration/faults/**'] },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['test/integration/faults/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
