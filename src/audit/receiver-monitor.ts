// Turns the access-log receiver's events into log lines and a drop counter, with drop warnings
// rate-limited so a sender streaming bad entries cannot flood the log.

import { Counter, type Registry } from 'prom-client';
import type { DropReason, ReceiverEvent } from './als-receiver.js';
import type { RefusalReason } from './receiver-access.js';
import type { AuditLog } from './runtime.js';

export interface ReceiverMonitorOptions {
  readonly log: AuditLog;
  /**
   * Registers `modelgate_audit_entries_dropped_total{reason}` and
   * `modelgate_audit_streams_refused_total{reason}` here (the instance's own registry).
   */
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
  /** Streams refused since start, by reason. */
  refused(): Readonly<Record<RefusalReason, number>>;
}

export function receiverMonitor(options: ReceiverMonitorOptions): ReceiverMonitor {
  const now = options.now ?? Date.now;
  const interval = options.warnIntervalMs ?? 10_000;
  const counter = options.registry
    ? new Counter({
        name: 'modelgate_audit_entries_dropped_total',
        help: 'Access-log entries the audit receiver dropped instead of storing, by reason (entry_invalid, entry_failed, message_failed, rate_limited)',
        labelNames: ['reason'] as const,
        registers: [options.registry],
      })
    : undefined;
  const refusedCounter = options.registry
    ? new Counter({
        name: 'modelgate_audit_streams_refused_total',
        help: 'Access-log streams the audit receiver refused before reading them, by reason (no_client_certificate, sender_not_allowed, too_many_streams)',
        labelNames: ['reason'] as const,
        registers: [options.registry],
      })
    : undefined;
  const dropped: Record<DropReason, number> = { entry_invalid: 0, entry_failed: 0, message_failed: 0, rate_limited: 0 };
  const refused: Record<RefusalReason, number> = { no_client_certificate: 0, sender_not_allowed: 0, too_many_streams: 0 };
  let total = 0;
  let refusedTotal = 0;
  const dropWarning = throttle(now, interval);
  const refusalWarning = throttle(now, interval);

  const onDropped = (event: Extract<ReceiverEvent, { kind: 'entry_dropped' }>): void => {
    const count = event.count ?? 1;
    dropped[event.reason] += count;
    total += count;
    counter?.inc({ reason: event.reason }, count);
    const suppressed = dropWarning(count);
    if (suppressed === undefined) return;
    // The detail is ours (a range, an error class), never the entry itself: it may hold personal data.
    options.log.warn(
      { reason: event.reason, source: event.source, sender: event.sender, detail: event.detail.slice(0, 300), dropped_total: total, suppressed_since_last_warning: suppressed },
      'audit receiver dropped access-log entries',
    );
  };

  // A refused sender may retry in a loop: counted every time, warned about at a bounded rate.
  const onRefused = (event: Extract<ReceiverEvent, { kind: 'stream_refused' }>): void => {
    refused[event.reason] += 1;
    refusedTotal += 1;
    refusedCounter?.inc({ reason: event.reason });
    const suppressed = refusalWarning(1);
    if (suppressed === undefined) return;
    options.log.warn(
      { reason: event.reason, peer: event.peer, detail: event.detail.slice(0, 300), refused_total: refusedTotal, suppressed_since_last_warning: suppressed },
      'audit receiver refused an access-log stream',
    );
  };

  return {
    onEvent(event) {
      switch (event.kind) {
        case 'entry_dropped':
          return onDropped(event);
        case 'stream_refused':
          return onRefused(event);
        case 'stream_failed':
        case 'store_failed':
          return options.log.error(event, 'audit receiver');
        default:
          return options.log.info(event, 'audit receiver');
      }
    },
    dropped: () => ({ ...dropped }),
    refused: () => ({ ...refused }),
  };
}

/**
 * At most one warning per interval: returns how many events were held back since the last one when
 * this one may warn, else undefined (and counts it as held back).
 */
function throttle(now: () => number, interval: number): (count: number) => number | undefined {
  let lastWarn = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (count) => {
    const at = now();
    if (at - lastWarn < interval) {
      suppressed += count;
      return undefined;
    }
    lastWarn = at;
    const held = suppressed;
    suppressed = 0;
    return held;
  };
}
