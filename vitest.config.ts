import { defineConfig } from 'vitest/config';

// Integration tests start real servers (gRPC, Redis, nginx, Envoy, JWKS over HTTP) on free ports;
// two workers match the 2-core machines this runs on. The fault suite, and the limiter's own
// under-load test, hold load while they break things and bound every check's time (20 ms), so they
// run last, one file at a time, without the other files competing for the two cores.
const TIMED = ['test/integration/faults/**/*.test.ts', 'test/integration/ratelimit/under-load.test.ts'];

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
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: [...TIMED] },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: TIMED,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
