// Generated audit records for detector and report tests: steady per-subject habits plus planted incidents.

import type { AuditRecord } from '../../../src/audit/record.js';
import { rng } from '../random.js';

export { rng };

let counter = 0;

export function makeRecord(fields: Partial<AuditRecord> & { time: string }): AuditRecord {
  counter += 1;
  const decision = fields.decision ?? 'allow';
  return {
    request_id: `req-${counter}`,
    source: { kind: 'envoy_als', id: 'envoy-1/audit' },
    method: 'POST',
    authority: 'models.example',
    path: `/v1/models/${fields.model ?? 'm'}:generate`,
    protocol: 'HTTP/2',
    peer: { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '', address: 'hmac-sha256:peer-0' },
    subject: 'svc:x',
    auth_method: 'api_key',
    roles: ['invoker'],
    tenant: 'acme',
    model: 'm',
    gen_ai: { request: { model: fields.model ?? 'm' } },
    action: 'generate',
    decision,
    decision_id: `dec-${counter}`,
    reason: decision === 'deny' ? 'denied_by_rule' : 'allowed',
    rule_id: 'r1',
    shadow_rules: [],
    response_code: decision === 'deny' ? 403 : 200,
    response_flags: decision === 'deny' ? ['UAEX'] : [],
    response_code_details: decision === 'deny' ? 'ext_authz_denied' : 'via_upstream',
    duration_ms: 40,
    ext_authz_duration_ms: 1,
    bytes_received: 1000,
    bytes_sent: 4000,
    upstream_host: '10.0.0.9:8000',
    ratelimit: {},
    kept: {},
    ...fields,
  };
}

export const NOW = Date.parse('2025-03-10T12:00:00.000Z');
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

interface Habit {
  subject: string;
  hours: [number, number];
  perHour: number;
  models: string[];
  peers: string[];
}

const HABITS: Habit[] = [
  { subject: 'svc:chatbot', hours: [0, 24], perHour: 12, models: ['llama-3-70b', 'llama-3-8b'], peers: ['spiffe://prod/sa/chatbot'] },
  { subject: 'svc:billing', hours: [6, 20], perHour: 8, models: ['classifier-v2'], peers: ['hmac-sha256:billing-a', 'hmac-sha256:billing-b'] },
  { subject: 'svc:research', hours: [8, 18], perHour: 6, models: ['llama-3-70b', 'mistral-7b', 'embed-v3'], peers: ['hmac-sha256:research'] },
  { subject: 'user:alice', hours: [9, 17], perHour: 4, models: ['gpt-internal'], peers: ['hmac-sha256:alice-laptop'] },
  { subject: 'user:bob', hours: [13, 22], perHour: 3, models: ['gpt-internal', 'embed-v3'], peers: ['hmac-sha256:bob-laptop'] },
];

/** Eight days of ordinary traffic ending at NOW: each subject keeps its hours, models and peers; ~1% denials. */
export function normalTraffic(seed = 7): AuditRecord[] {
  const random = rng(seed);
  const out: AuditRecord[] = [];
  for (let hourStart = NOW - 8 * DAY; hourStart < NOW; hourStart += HOUR) {
    const hourOfDay = new Date(hourStart).getUTCHours();
    for (const h of HABITS) {
      if (hourOfDay < h.hours[0] || hourOfDay >= h.hours[1]) continue;
      const n = Math.round(h.perHour * (0.6 + 0.8 * random()));
      for (let i = 0; i < n; i++) {
        const model = h.models[Math.floor(random() * h.models.length)]!;
        const peer = h.peers[Math.floor(random() * h.peers.length)]!;
        out.push(
          makeRecord({
            time: new Date(hourStart + Math.floor(random() * HOUR)).toISOString(),
            subject: h.subject,
            model,
            decision: random() < 0.01 ? 'deny' : 'allow',
            peer: peer.startsWith('spiffe:')
              ? { principal: peer, uri_sans: [peer], dns_sans: [], certificate_subject: '' }
              : { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '', address: peer },
          }),
        );
      }
    }
  }
  return out;
}

/** A stolen billing key: 600 requests in one night hour from an address it never used. */
export function stolenKeyBurst(): AuditRecord[] {
  const start = NOW - 9 * HOUR; // 03:00 UTC
  return Array.from({ length: 600 }, (_, i) =>
    makeRecord({
      time: new Date(start + i * 5_000).toISOString(),
      subject: 'svc:billing',
      model: 'classifier-v2',
      peer: { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '', address: 'hmac-sha256:attacker' },
    }),
  );
}

/** Someone without valid credentials trying keys: denials, no subject, one address. */
export function prober(): AuditRecord[] {
  return Array.from({ length: 80 }, (_, i) =>
    makeRecord({
      time: new Date(NOW - 5 * HOUR + i * 30_000).toISOString(),
      subject: '',
      auth_method: '',
      model: 'llama-3-70b',
      decision: i % 10 === 0 ? 'allow' : 'deny',
      reason: 'api_key_invalid',
      peer: { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '', address: 'hmac-sha256:prober' },
    }),
  );
}

/** A research account enumerating the model catalogue within business hours. */
export function modelSweep(): AuditRecord[] {
  return Array.from({ length: 16 }, (_, i) =>
    makeRecord({
      time: new Date(NOW - 2 * HOUR + i * 60_000).toISOString(),
      subject: 'svc:research',
      model: `catalog-model-${i}`,
      decision: i % 2 === 0 ? 'deny' : 'allow',
      peer: { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '', address: 'hmac-sha256:research' },
    }),
  );
}

export const byTime = (a: AuditRecord, b: AuditRecord): number => a.time.localeCompare(b.time);
