// Readiness judged against the configured fail modes, with a fake limiter whose backend is up or down.

import { describe, expect, it } from 'vitest';
import { readinessMonitor, type ReadinessOptions, type ServingPhase } from '../../../src/admin/readiness.js';
import type { Readiness } from '../../../src/admin/server.js';
import { unlimited, type Limiter } from '../../../src/ratelimit/limiter.js';

function setup(options: Partial<ReadinessOptions> & { backend?: () => Promise<boolean> } = {}) {
  const verdicts: Readiness[] = [];
  const state = { phase: 'serving' as ServingPhase, probes: 0 };
  const limiter: Limiter = {
    ...unlimited,
    ready: () => {
      state.probes++;
      return options.backend ? options.backend() : Promise.resolve(true);
    },
  };
  const monitor = readinessMonitor({
    limiter,
    failClosedBuckets: [],
    phase: () => state.phase,
    serving: () => 'policy sha256 abc',
    onVerdict: (now) => verdicts.push(now),
    ...options,
  });
  return { monitor, verdicts, state };
}

describe('readiness', () => {
  it('is ready when the backend answers', async () => {
    const { monitor } = setup();
    expect(await monitor.check()).toEqual({ ready: true, detail: 'ready: policy sha256 abc' });
  });

  it('with the backend down and only fail_open limits: ready, degraded', async () => {
    const { monitor } = setup({ backend: async () => false });
    const verdict = await monitor.check();
    expect(verdict).toMatchObject({ ready: true, degraded: true });
    expect(verdict.detail).toMatch(/^ready \(degraded\): rate limiter backend unreachable/);
  });

  it('with the backend down and a fail_closed limit: not ready, naming the limits', async () => {
    const { monitor } = setup({ backend: () => Promise.reject(new Error('ECONNREFUSED')), failClosedBuckets: ['tenant', 'global'] });
    const verdict = await monitor.check();
    expect(verdict).toMatchObject({ ready: false, degraded: true });
    expect(verdict.detail).toContain('fail_closed limit(s) tenant, global');
  });

  it('is not ready while starting or stopping, without asking the backend', async () => {
    const { monitor, state } = setup();
    state.phase = 'starting';
    expect(await monitor.check()).toEqual({ ready: false, detail: 'starting' });
    state.phase = 'stopping';
    expect(await monitor.check()).toEqual({ ready: false, detail: 'shutting down' });
    expect(state.probes).toBe(0);
  });

  it('a probe that straddles the start of shutdown reports shutting down, not ready', async () => {
    let answer: (up: boolean) => void = () => {};
    const { monitor, state, verdicts } = setup({ backend: () => new Promise((r) => (answer = r)) });
    const pending = monitor.check();
    state.phase = 'stopping';
    answer(true);
    expect(await pending).toEqual({ ready: false, detail: 'shutting down' });
    expect(verdicts.at(-1)).toEqual({ ready: false, detail: 'shutting down' });
  });

  it('shares one probe between concurrent checks, and every verdict reaches onVerdict', async () => {
    let answer: (up: boolean) => void = () => {};
    const { monitor, state, verdicts } = setup({ backend: () => new Promise((r) => (answer = r)) });
    const all = Promise.all([monitor.check(), monitor.check(), monitor.check()]);
    answer(true);
    await all;
    expect(state.probes).toBe(1);
    expect(verdicts).toHaveLength(1);
  });

  it('start() probes at once, then every interval, until stop()', async () => {
    const { monitor, state } = setup({ intervalMs: 10 });
    await monitor.start();
    await new Promise((r) => setTimeout(r, 60));
    monitor.stop();
    const probes = state.probes;
    expect(probes).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 40));
    expect(state.probes).toBe(probes);
  });
});
