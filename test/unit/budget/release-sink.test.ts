// The access-log path of lease release: the Check's own metadata (reservation_id in the ext_authz
// namespace) reaches the audit record, and releasingSink frees the lease with it; no ext_proc needed.

import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../src/audit/record.js';
import { normalizeAlsEntry } from '../../../src/audit/normalize-als.js';
import { canonicalJson } from '../../../src/audit/canonical.js';
import { releasingSink } from '../../../src/budget/release-sink.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';
import { testPrivacy } from '../../helpers/audit/fixtures.js';
import { chat, ledgerFor, reservationOf, T0 } from '../../helpers/budget/ledgers.js';

/** An ALS entry as Envoy sends it after a request whose Check answered with `metadata`. */
function alsEntry(metadata: Record<string, string | number>) {
  return {
    common_properties: {
      start_time: { seconds: String(T0 / 1000), nanos: 0 },
      metadata: { filter_metadata: { 'envoy.filters.http.ext_authz': jsonToStruct(metadata) } },
    },
    request: { request_id: 'r-1' },
  };
}

function recordOf(metadata: Record<string, string | number>): AuditRecord {
  const r = normalizeAlsEntry(alsEntry(metadata), { kind: 'envoy_als', id: 'n/l' }, testPrivacy());
  if (!r.ok) throw new Error(r.error);
  return r.record;
}

describe('releasingSink', () => {
  it('frees a lease when the access-log entry of its request arrives', async () => {
    const ledger = await ledgerFor('memory', undefined, { concurrency: [{ id: 'one', per: 'subject', max_in_flight: 1 }] });
    try {
      const first = await ledger.limiter.take(chat());
      expect(first.allowed).toBe(true);
      expect(await ledger.limiter.take(chat({ now: T0 + 1 }))).toMatchObject({ allowed: false, reason: 'concurrency_limited' });

      const appended: AuditRecord[] = [];
      const sink = releasingSink({ append: (records) => (appended.push(...records), Promise.resolve({ lastSeq: appended.length })) }, ledger.settler, () => T0 + 2);
      const record = recordOf({ decision: 'allow', subject: 'api_key:alice', ...first.metadata });
      expect(record.budget?.reservation_id).toBe(reservationOf(first));
      await sink.append([record]);
      expect(appended).toEqual([record]);
      // The release is not awaited by the sink: wait for the ledger to see it.
      let next = await ledger.limiter.take(chat({ now: T0 + 3 }));
      for (let i = 0; !next.allowed && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 5));
        next = await ledger.limiter.take(chat({ now: T0 + 3 }));
      }
      expect(next.allowed).toBe(true);
    } finally {
      await ledger.close();
    }
  });

  it('records without budget metadata carry no budget field (their canonical bytes are unchanged)', () => {
    const plain = recordOf({ decision: 'allow', subject: 'api_key:alice', ratelimit_remaining: 3 });
    expect(plain).not.toHaveProperty('budget');
    expect(canonicalJson(plain)).not.toContain('budget');
    const refused = recordOf({ decision: 'deny', reason: 'budget_exhausted', budget_id: 'monthly', budget_remaining: 0, budget_reset: 1798761600 });
    expect(refused.budget).toEqual({ budget_id: 'monthly', budget_remaining: '0', budget_reset: '1798761600' });
  });
});
