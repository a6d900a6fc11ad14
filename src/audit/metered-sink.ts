// Wraps the audit sink the access-log receiver writes to with the metrics an operator watches: how
// many records became durable, how far behind the requests they were, and how often the store failed.

import { Counter, Histogram, type Registry } from 'prom-client';
import type { AuditSink } from './sink.js';

/** From Envoy's flush interval (1 s by default) up to a store that has fallen an hour behind. */
export const INGEST_LAG_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];

export interface MeteredSinkOptions {
  /** The instance's own registry (never the global one). */
  readonly registry: Registry;
  readonly now?: () => number;
}

/**
 * Same contract as the wrapped sink; metrics are taken after `append` settles, so a durable record
 * is counted only once it is fsynced and a failure only when the store rejected the batch.
 */
export function meteredSink(sink: AuditSink, options: MeteredSinkOptions): AuditSink {
  const now = options.now ?? Date.now;
  const registers = [options.registry];
  const stored = new Counter({
    name: 'modelgate_audit_records_stored_total',
    help: 'Access-log records the audit receiver made durable in the chain (fsynced); flat while traffic flows means the chain stalled',
    registers,
  });
  const failures = new Counter({
    name: 'modelgate_audit_store_errors_total',
    help: 'Appends the audit store rejected (disk error, lost lock); Envoy gets UNAVAILABLE for the stream and the records are not in the chain',
    registers,
  });
  const lag = new Histogram({
    name: 'modelgate_audit_ingest_lag_seconds',
    help: "Per record, from the request's start in Envoy to the record being durable in the chain (includes the request's own duration and Envoy's access-log flush interval)",
    buckets: INGEST_LAG_BUCKETS,
    registers,
  });

  return {
    async append(records) {
      try {
        const result = await sink.append(records);
        const at = now();
        stored.inc(records.length);
        for (const record of records) {
          const start = Date.parse(record.time);
          // A clock skewed between Envoy and this host must not record a negative lag.
          if (Number.isFinite(start)) lag.observe(Math.max(0, (at - start) / 1000));
        }
        return result;
      } catch (error) {
        failures.inc();
        throw error;
      }
    },
  };
}
