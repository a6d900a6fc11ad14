// Drop warnings are rate-limited, every drop is counted (and exported when a registry is given).

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { receiverMonitor } from '../../../src/audit/receiver-monitor.js';

function fakeLog() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (fields: object, msg: string) => void lines.push({ level, fields: fields as Record<string, unknown>, msg });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

const drop = (reason: 'entry_invalid' | 'entry_failed' = 'entry_invalid') =>
  ({ kind: 'entry_dropped', source: 'edge/audit', sender: 'loopback', reason, detail: 'start_time out of range' }) as const;

describe('receiverMonitor', () => {
  it('warns once per interval, counts every drop, and reports what it suppressed', async () => {
    let t = 0;
    const { lines, log } = fakeLog();
    const registry = new Registry();
    const monitor = receiverMonitor({ log, registry, now: () => t, warnIntervalMs: 1000 });
    for (let i = 0; i < 500; i++) monitor.onEvent(drop());
    monitor.onEvent(drop('entry_failed'));
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    t = 1000;
    monitor.onEvent(drop());
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(2);
    expect(warns[0]!.fields).toMatchObject({ reason: 'entry_invalid', source: 'edge/audit', dropped_total: 1, suppressed_since_last_warning: 0 });
    expect(warns[1]!.fields).toMatchObject({ dropped_total: 502, suppressed_since_last_warning: 500 });
    expect(monitor.dropped()).toEqual({ entry_invalid: 501, entry_failed: 1, message_failed: 0, rate_limited: 0 });
    const text = await registry.metrics();
    expect(text).toContain('modelgate_audit_entries_dropped_total{reason="entry_invalid"} 501');
    expect(text).toContain('modelgate_audit_entries_dropped_total{reason="entry_failed"} 1');
  });

  it('logs stream events at info and failures at error', () => {
    const { lines, log } = fakeLog();
    const monitor = receiverMonitor({ log });
    monitor.onEvent({ kind: 'stream_opened', source: 's', sender: 'loopback' });
    monitor.onEvent({ kind: 'store_failed', source: 's', sender: 'loopback', records: 1, error: 'disk' });
    expect(lines.map((l) => l.level)).toEqual(['info', 'error']);
  });

  it('counts a rate-limited batch by its entries, and refused streams by reason with bounded warnings', async () => {
    const { lines, log } = fakeLog();
    const registry = new Registry();
    const monitor = receiverMonitor({ log, registry, now: () => 0, warnIntervalMs: 1000 });
    monitor.onEvent({ kind: 'entry_dropped', source: 's', sender: 'loopback', reason: 'rate_limited', detail: 'rate', count: 40 });
    for (let i = 0; i < 3; i++) monitor.onEvent({ kind: 'stream_refused', reason: 'sender_not_allowed', peer: '127.0.0.1:1', detail: 'x' });
    monitor.onEvent({ kind: 'stream_refused', reason: 'too_many_streams', peer: '127.0.0.1:2', detail: 'y' });
    expect(monitor.dropped().rate_limited).toBe(40);
    expect(monitor.refused()).toEqual({ no_client_certificate: 0, sender_not_allowed: 3, too_many_streams: 1 });
    expect(lines.filter((l) => l.msg === 'audit receiver refused an access-log stream')).toHaveLength(1);
    const text = await registry.metrics();
    expect(text).toContain('modelgate_audit_entries_dropped_total{reason="rate_limited"} 40');
    expect(text).toContain('modelgate_audit_streams_refused_total{reason="sender_not_allowed"} 3');
    expect(text).toContain('modelgate_audit_streams_refused_total{reason="too_many_streams"} 1');
  });
});
