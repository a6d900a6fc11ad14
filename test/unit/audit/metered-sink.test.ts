// The audit sink's metrics: durable records counted once fsynced, per-record ingest lag from the
// request's start, store failures counted and still rejected to the receiver.

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { meteredSink } from '../../../src/audit/metered-sink.js';
import type { AuditRecord } from '../../../src/audit/record.js';
import type { AuditSink } from '../../../src/audit/sink.js';

const T0 = Date.parse('2026-11-28T00:00:00.000Z');
const record = (time: string) => ({ time }) as unknown as AuditRecord;

async function values(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>) {
      const labels = Object.entries(v.labels).map(([k, l]) => `${k}=${l}`).join(',');
      out.set(`${v.metricName ?? metric.name}{${labels}}`, v.value);
    }
  }
  return out;
}

describe('meteredSink', () => {
  it('counts durable records and observes each record lag from its request start', async () => {
    const registry = new Registry();
    let seq = 0;
    const inner: AuditSink = { append: async (records) => ({ lastSeq: (seq += records.length) }) };
    const sink = meteredSink(inner, { registry, now: () => T0 });
    const v0 = await values(registry);
    // Present at zero from the start, so "no records stored" is a 0 rate, not an absent series.
    expect(v0.get('modelgate_audit_records_stored_total{}')).toBe(0);
    expect(v0.get('modelgate_audit_store_errors_total{}')).toBe(0);

    expect(await sink.append([record('2026-11-27T23:59:59.000Z'), record('2026-11-27T23:59:30.000Z')])).toEqual({ lastSeq: 2 });
    // A record stamped after "now" (Envoy's clock ahead) counts as no lag, never a negative one.
    await sink.append([record('2026-11-28T00:00:05.000Z')]);
    const v = await values(registry);
    expect(v.get('modelgate_audit_records_stored_total{}')).toBe(3);
    expect(v.get('modelgate_audit_ingest_lag_seconds_count{}')).toBe(3);
    expect(v.get('modelgate_audit_ingest_lag_seconds_sum{}')).toBe(31);
    expect(v.get('modelgate_audit_ingest_lag_seconds_bucket{le=0.25}')).toBe(1);
    expect(v.get('modelgate_audit_ingest_lag_seconds_bucket{le=1}')).toBe(2);
    expect(v.get('modelgate_audit_ingest_lag_seconds_bucket{le=30}')).toBe(3);
  });

  it('counts a rejected append as a store error, stores nothing, and passes the rejection on', async () => {
    const registry = new Registry();
    const inner: AuditSink = { append: async () => Promise.reject(new Error('EIO')) };
    const sink = meteredSink(inner, { registry, now: () => T0 });
    await expect(sink.append([record('2026-11-27T23:59:59.000Z')])).rejects.toThrow('EIO');
    const v = await values(registry);
    expect(v.get('modelgate_audit_store_errors_total{}')).toBe(1);
    expect(v.get('modelgate_audit_records_stored_total{}')).toBe(0);
    expect(v.get('modelgate_audit_ingest_lag_seconds_count{}')).toBe(0);
  });
});
