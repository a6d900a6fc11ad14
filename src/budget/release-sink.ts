// Releases a request's concurrency lease when its access-log entry arrives: the request is over
// even if no settlement reached us (a reset stream, an ext_proc that timed out). Never charges.

import type { AuditSink } from '../audit/sink.js';
import type { BudgetSettler } from './settler-port.js';

/** Wraps the audit sink; without a settler (no budgets) it is the sink itself. */
export function releasingSink(sink: AuditSink, settler: BudgetSettler | undefined, now: () => number): AuditSink {
  if (settler === undefined) return sink;
  return {
    append: (records) => {
      for (const record of records) {
        // The Check's metadata names the reservation on every budgeted route; ext_proc's only where it ran.
        const id = record.budget?.reservation_id || record.llm?.reservation_id;
        // Idempotent and never awaited: a lease already released (by settlement) stays released.
        if (id) settler.release(id, now()).catch(() => undefined);
      }
      return sink.append(records);
    },
  };
}
