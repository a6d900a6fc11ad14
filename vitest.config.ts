import { defineConfig } from 'vitest/config';

// Integration tests start real servers (gRPC, Redis, nginx, JWKS over HTTP) on free ports;
// two workers match the 2-core machines this runs on.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/envoy.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
