// The hot-path histogram and counter must expose exactly what prom-client's own would for the same
// observations: same lines, same values, same cluster aggregation.

import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { deferredCounter } from '../../../src/metrics/deferred-counter.js';
import { LatencyHistogram } from '../../../src/metrics/latency-histogram.js';
import { CHECK_LATENCY_BUCKETS } from '../../../src/metrics/metrics.js';

const VALUES = [0, 0.00005, 0.00004, 0.0001, 0.0003, 0.001, 0.0049, 0.2, 0.7, 1, 3, 1e-9, Number.NaN, 0.00025];

describe('LatencyHistogram', () => {
  it("reads exactly like prom-client's Histogram with the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new LatencyHistogram('h_seconds', 'help text', CHECK_LATENCY_BUCKETS, [ours]);
    const ref = new Histogram({ name: 'h_seconds', help: 'help text', labelNames: ['decision'], buckets: CHECK_LATENCY_BUCKETS, registers: [theirs] });
    // Series are listed in the order they were first used, as prom-client does.
    const deny = h.series({ decision: 'deny' });
    const allow = h.series({ decision: 'allow' });
    for (const [i, v] of VALUES.entries()) {
      if (Number.isNaN(v)) continue; // prom-client throws on NaN; ours drops it
      (i % 3 === 0 ? deny : allow).observe(v);
      ref.observe({ decision: i % 3 === 0 ? 'deny' : 'allow' }, v);
    }
    allow.observe(Number.NaN);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(h.series({ decision: 'allow' })).not.toBe(allow); // a fresh handle, same series:
    h.series({ decision: 'allow' }).observe(0.5);
    ref.observe({ decision: 'allow' }, 0.5);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('aggregates across workers like a histogram (sum)', async () => {
    const workers = [new Registry(), new Registry()];
    for (const [i, r] of workers.entries()) {
      const h = new LatencyHistogram('h_seconds', 'help', [0.1, 1], [r]);
      for (let n = 0; n <= i; n++) h.series({ decision: 'allow' }).observe(0.05);
    }
    const merged = AggregatorRegistry.aggregate(await Promise.all(workers.map((r) => r.getMetricsAsJSON())));
    const text = await merged.metrics();
    expect(text).toContain('h_seconds_bucket{le="0.1",decision="allow"} 3');
    expect(text).toContain('h_seconds_count{decision="allow"} 3');
  });
});

describe('deferredCounter', () => {
  it("reads exactly like prom-client's Counter, at every scrape", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const c = deferredCounter({ name: 'c_total', help: 'h', labelNames: ['a', 'b'] as const, registers: [ours] });
    const ref = new Counter({ name: 'c_total', help: 'h', labelNames: ['a', 'b'] as const, registers: [theirs] });
    const x = c.series({ a: '1', b: 'x' });
    for (let i = 0; i < 5; i++) x.inc();
    c.series({ b: 'y', a: '2' }).inc();
    ref.inc({ a: '1', b: 'x' }, 5);
    ref.inc({ b: 'y', a: '2' });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    x.inc();
    ref.inc({ a: '1', b: 'x' });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('c_total{a="1",b="x"} 6');
    expect(c.series({ a: '1', b: 'x' })).toBe(x);
  });
});
