// Denials in the window grouped by reason code: what callers are being refused for.

import { actorOf, type AuditRecord } from '../record.js';
import { isDenied } from './detectors.js';

export interface DenialReason {
  /** modelgate's reason code; Envoy's response flags when the deny carried none (e.g. `UAEX`, `RL`). */
  readonly reason: string;
  readonly denied: number;
  readonly subjects: number;
}

export function reasonOf(r: AuditRecord): string {
  return r.reason || r.response_flags.join(',') || '(unknown)';
}

export function denialsByReason(records: readonly AuditRecord[]): DenialReason[] {
  const byReason = new Map<string, { denied: number; actors: Set<string> }>();
  for (const r of records) {
    if (!isDenied(r)) continue;
    const key = reasonOf(r);
    let entry = byReason.get(key);
    if (!entry) byReason.set(key, (entry = { denied: 0, actors: new Set() }));
    entry.denied += 1;
    entry.actors.add(actorOf(r));
  }
  return [...byReason]
    .map(([reason, e]) => ({ reason, denied: e.denied, subjects: e.actors.size }))
    .sort((a, b) => b.denied - a.denied || a.reason.localeCompare(b.reason));
}
