// Normalization of both Envoy formats into one record, and what privacy lets through.

import { describe, expect, it } from 'vitest';
import { parseAuditConfig } from '../../../src/audit/config.js';
import { responseFlagCodes, normalizeAlsEntry } from '../../../src/audit/normalize-als.js';
import { hostOnly, normalizeFileLine } from '../../../src/audit/normalize-file.js';
import { jsonToStruct, structToJson } from '../../../src/grpc/struct.js';
import { testPrivacy } from '../../helpers/audit/fixtures.js';

const source = { kind: 'envoy_file' as const, id: '/var/log/envoy/access.json', file: '1:2', offset: 10 };

const line = {
  start_time: '2025-03-01T10:00:00.123Z',
  request_id: 'abc-1',
  method: 'POST',
  path: '/v1/chat?token=XYZ',
  authority: 'api.example',
  protocol: 'HTTP/1.1',
  response_code: 403,
  response_flags: 'UAEX',
  response_code_details: 'ext_authz_denied',
  duration_ms: 4,
  bytes_received: 10,
  bytes_sent: 20,
  upstream_host: null,
  downstream_peer_uri_san: null,
  downstream_peer_dns_san: 'client.example,alt.example',
  downstream_peer_subject: 'CN=client',
  downstream_remote_address: '203.0.113.7:51234',
  user_agent: 'curl/8',
  ext_authz: { decision: 'deny', reason: 'no_matching_rule', subject: 'user:eve', auth_method: 'jwt', roles: 'a,b', model: 'm1', action: 'invoke', ratelimit_limit: '100', ext_authz_duration: 2 },
};

describe('normalizeFileLine', () => {
  it('maps every field of the Envoy JSON format', () => {
    const result = normalizeFileLine(JSON.stringify(line), source, testPrivacy({ keep: [{ name: 'user_agent', mode: 'hash' }] }));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.record).toMatchObject({
      time: '2025-03-01T10:00:00.123Z',
      request_id: 'abc-1',
      path: '/v1/chat',
      response_flags: ['UAEX'],
      decision: 'deny',
      reason: 'no_matching_rule',
      subject: 'user:eve',
      roles: ['a', 'b'],
      upstream_host: '',
      peer: { principal: 'client.example', uri_sans: [], dns_sans: ['client.example', 'alt.example'], certificate_subject: 'CN=client' },
      ratelimit: { ratelimit_limit: '100' },
      ext_authz_duration_ms: 2,
    });
    expect(result.record.kept.user_agent).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(result.record)).not.toMatch(/XYZ|203\.0\.113\.7|curl/);
  });

  it('accepts absent metadata as null or "-" and flags "-" as none', () => {
    for (const ext of [null, '-']) {
      const r = normalizeFileLine(JSON.stringify({ ...line, ext_authz: ext, response_flags: '-' }), source, testPrivacy());
      expect(r.ok && r.record.decision).toBe('none');
      expect(r.ok && r.record.response_flags).toEqual([]);
    }
  });

  it('keeps plaintext only where configured, and drops the address when told to', () => {
    const privacy = testPrivacy({ remote_address: 'drop', keep_query: true, keep: [{ name: 'user_agent', mode: 'plain' }] });
    const r = normalizeFileLine(JSON.stringify(line), source, privacy);
    expect(r.ok && r.record.peer.address).toBeUndefined();
    expect(r.ok && r.record.path).toBe('/v1/chat?token=XYZ');
    expect(r.ok && r.record.kept).toEqual({ user_agent: 'curl/8' });
  });

  it('rejects lines that are not access-log entries', () => {
    expect(normalizeFileLine('not json', source, testPrivacy())).toEqual({ ok: false, error: 'not JSON' });
    expect(normalizeFileLine('{"start_time":"yesterday"}', source, testPrivacy()).ok).toBe(false);
  });

  it('strips ports from IPv4 and IPv6 addresses', () => {
    expect(hostOnly('10.0.0.1:443')).toBe('10.0.0.1');
    expect(hostOnly('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(hostOnly('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('ALS entries', () => {
  it('round-trip Struct metadata and map response flags to Envoy short codes', () => {
    expect(structToJson(jsonToStruct({ a: 'x', b: 2, c: [true, null], d: { e: 'f' } }))).toEqual({ a: 'x', b: 2, c: [true, null], d: { e: 'f' } });
    expect(responseFlagCodes({ rate_limited: true, unauthorized_details: { reason: 'EXTERNAL_SERVICE' } })).toEqual(['RL', 'UAEX']);
  });

  it('falls back to the metadata request id and tolerates a minimal entry', () => {
    const r = normalizeAlsEntry(
      { common_properties: { metadata: { filter_metadata: { 'envoy.filters.http.ext_authz': jsonToStruct({ request_id: 'from-md', decision: 'allow' }) } } } },
      { kind: 'envoy_als', id: 'n/l' },
      testPrivacy(),
    );
    expect(r).toMatchObject({ ok: true, record: { request_id: 'from-md', decision: 'allow', time: '1970-01-01T00:00:00.000Z', response_code: 0, peer: { principal: '' } } });
    expect(r.ok && r.record.peer.address).toBeUndefined();
  });

  it('refuses, as a value, a start time outside google.protobuf.Timestamp (it used to throw a RangeError)', () => {
    const at = (seconds: string, nanos = 0) =>
      normalizeAlsEntry({ common_properties: { start_time: { seconds, nanos } } }, { kind: 'envoy_als', id: 'n/l' }, testPrivacy());
    for (const [seconds, nanos] of [['9000000000000000', 0], ['253402300800', 0], ['-62135596801', 0], ['-9223372036854775808', 0], ['1', -1], ['1', 1e9]] as const) {
      expect(at(seconds, nanos)).toMatchObject({ ok: false, error: expect.stringContaining('start_time out of range') });
    }
    expect(at('253402300799', 999_999_999)).toMatchObject({ ok: true, record: { time: '9999-12-31T23:59:59.999Z' } });
    expect(at('-62135596800')).toMatchObject({ ok: true, record: { time: '0001-01-01T00:00:00.000Z' } });
  });

  it('keeps huge durations finite', () => {
    const r = normalizeAlsEntry({ common_properties: { duration: { seconds: '9223372036854775807', nanos: 999_999_999 } } }, { kind: 'envoy_als', id: 'n/l' }, testPrivacy());
    expect(r.ok && Number.isFinite(r.record.duration_ms)).toBe(true);
  });
});

describe('audit config', () => {
  it('fills defaults and parses durations', () => {
    const r = parseAuditConfig({ store: { segment_max_age: '15m' } });
    expect(r.ok && r.config.store.segment_max_age).toBe(900_000);
    expect(r.ok && r.config.privacy.remote_address).toBe('hash');
  });

  it('names the key path of an error and refuses credentials as kept fields', () => {
    expect(parseAuditConfig({ store: { segmnt_max_age: '1h' } })).toMatchObject({ ok: false, error: expect.stringMatching(/^audit\.store: .*segmnt_max_age/) });
    expect(parseAuditConfig({ store: { segment_max_age: 'soon' } })).toMatchObject({ ok: false, error: expect.stringMatching(/^audit\.store\.segment_max_age: not a duration/) });
    expect(parseAuditConfig({ privacy: { keep: [{ name: 'Authorization' }] } })).toMatchObject({ ok: false, error: expect.stringMatching(/^audit\.privacy\.keep\[0\]\.name: looks like a credential/) });
  });
});
