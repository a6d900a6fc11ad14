// Turns the access-log receiver's events into log lines and a drop counter, with drop warnings
// rate-limited so a sender streaming bad entries cannot flood the log.

import { Counter, type Registry } from 'prom-client';
import type { DropReason, ReceiverEvent } from './als-receiver.js';
import type { AuditLog } from './runtime.js';

export interface ReceiverMonitorOptions {
  readonly log: AuditLog;
  /** Registers `modelgate_audit_entries_dropped_total{reason}` here (the instance's own registry). */
  readonly registry?: Registry;
  readonly now?: () => number;
  /** At most one drop warning per interval; drops in between are counted and reported with the next. */
  readonly warnIntervalMs?: number;
}

export interface ReceiverMonitor {
  /** The receiver's `onEvent`. */
  readonly onEvent: (event: ReceiverEvent) => void;
  /** Entries dropped since start, by reason. */
  dropped(): Readonly<Record<DropReason, number>>;
}

export function receiverMonitor(options: ReceiverMonitorOptions): ReceiverMonitor {
  const now = options.now ?? Date.now;
  const interval = options.warnIntervalMs ?? 10_000;
  const counter = options.registry
    ? new Counter({
        name: 'modelgate_audit_entries_dropped_total',
        help: 'Access-log entries the audit receiver dropped instead of storing, by reason (entry_invalid, entry_failed, message_failed)',
        labelNames: ['reason'] as const,
        registers: [options.registry],
      })
    : undefined;
  const dropped: Record<DropReason, number> = { entry_invalid: 0, entry_failed: 0, message_failed: 0 };
  let total = 0;
  let lastWarn = Number.NEGATIVE_INFINITY;
  let suppressed = 0;

  const onDropped = (event: Extract<ReceiverEvent, { kind: 'entry_dropped' }>): void => {
    dropped[event.reason] += 1;
    total += 1;
    counter?.inc({ reason: event.reason });
    const at = now();
    if (at - lastWarn < interval) {
      suppressed += 1;
      return;
    }
    lastWarn = at;
    // The detail is ours (a range, an error class), never the entry itself: it may hold personal data.
    options.log.warn(
      { reason: event.reason, source: event.source, detail: event.detail.slice(0, 300), dropped_total: total, suppressed_since_last_warning: suppressed },
      'audit receiver dropped access-log entries',
    );
    suppressed = 0;
  };

  return {
    onEvent(event) {
      switch (event.kind) {
        case 'entry_dropped':
          return onDropped(event);
        case 'stream_failed':
        case 'store_failed':
          return options.log.error(event, 'audit receiver');
        default:
          return options.log.info(event, 'audit receiver');
      }
    },
    dropped: () => ({ ...dropped }),
  };
}
