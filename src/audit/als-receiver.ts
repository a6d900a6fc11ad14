// gRPC AccessLogService (Envoy's http_grpc access logger): streams of log entries in, durable audit records out.

import * as grpc from '@grpc/grpc-js';
import { accessLogServiceDefinition } from './als-protos.js';
import { canonicalJson } from './canonical.js';
import { normalizeAlsEntry, type HttpAccessLogEntry } from './normalize-als.js';
import type { Privacy } from './privacy.js';
import { exposureProblem, loopbackSender, type Admission, type RefusalReason, type SenderCheck } from './receiver-access.js';
import type { ReceiverBudget } from './receiver-budget.js';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

/**
 * Why an entry did not become a record: `entry_invalid` is an entry no record can hold (a start time
 * outside google.protobuf.Timestamp's range); `entry_failed` is one whose record threw or could not
 * be encoded canonically (a bug of ours, kept off the chain so it cannot break the store);
 * `message_failed` is a whole message that threw before its entries were read; `rate_limited` are
 * entries above `max_entries_per_second` (the trail's disk and the report's baselines are bounded).
 */
export type DropReason = 'entry_invalid' | 'entry_failed' | 'message_failed' | 'rate_limited';

export type ReceiverEvent =
  | { kind: 'stream_opened'; source: string; sender: string }
  | { kind: 'stream_closed'; source: string; sender: string; records: number }
  | { kind: 'stream_failed'; source: string; sender: string; error: string }
  | { kind: 'stream_refused'; reason: RefusalReason; peer: string; detail: string }
  | { kind: 'store_failed'; source: string; sender: string; records: number; error: string }
  /** `count` entries (1 when absent) dropped for one reason. */
  | { kind: 'entry_dropped'; source: string; sender: string; reason: DropReason; detail: string; count?: number };

export interface AccessLogReceiverOptions {
  readonly sink: AuditSink;
  readonly privacy: Privacy;
  /** Above this many records awaiting fsync on one stream, stop reading it (HTTP/2 flow control pushes back on Envoy). */
  readonly maxPendingRecords?: number;
  /** Never awaited; a listener that throws is ignored (see receiver-monitor.ts for counting and logging). */
  readonly onEvent?: (event: ReceiverEvent) => void;
  /**
   * Who the stream's sender is, or why it is refused (receiver-access.ts). Default: every stream is
   * "loopback", which is only true on a loopback listener (startAccessLogServer enforces that).
   */
  readonly admit?: SenderCheck;
  /** Stream and entry-rate bounds (receiver-budget.ts); unbounded when absent (tests only). */
  readonly budget?: ReceiverBudget;
}

interface StreamMessage {
  identifier?: { node?: { id?: string; cluster?: string }; log_name?: string };
  http_logs?: { log_entry?: HttpAccessLogEntry[] };
  tcp_logs?: unknown;
}

function sourceOf(identifier: StreamMessage['identifier']): string {
  const node = identifier?.node?.id || identifier?.node?.cluster || 'unknown-node';
  return `${node}/${identifier?.log_name || 'unnamed'}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** An admission check that throws (a bug of ours) refuses the stream: never an unknown writer let in. */
function admitSafely(admit: SenderCheck, call: grpc.ServerReadableStream<StreamMessage, object>): Admission {
  try {
    return admit(call);
  } catch (error) {
    let peer = 'unknown';
    try {
      peer = call.getPeer();
    } catch {
      // keep 'unknown'
    }
    return { ok: false, reason: 'sender_not_allowed', peer, detail: `admission check failed: ${messageOf(error)}` };
  }
}

type EntryResult = { ok: true; record: AuditRecord } | { ok: false; reason: DropReason; detail: string };

/** Never throws: whatever the sender put in the entry ends as a record or a drop reason. */
function recordOf(entry: HttpAccessLogEntry, source: string, sender: string, privacy: Privacy): EntryResult {
  try {
    // `sender` is the authenticated writer; `id` is only what that writer says about itself.
    const result = normalizeAlsEntry(entry, { kind: 'envoy_als', id: source, sender }, privacy);
    if (!result.ok) return { ok: false, reason: 'entry_invalid', detail: result.error };
    // The store hashes canonical JSON inside its write batch, where a throw would mark the whole
    // store broken; a record that cannot be encoded is dropped here instead.
    canonicalJson(result.record);
    return result;
  } catch (error) {
    return { ok: false, reason: 'entry_failed', detail: messageOf(error) };
  }
}

function handler(options: AccessLogReceiverOptions): grpc.handleClientStreamingCall<StreamMessage, object> {
  const listener = options.onEvent ?? (() => undefined);
  const emit = (event: ReceiverEvent): void => {
    try {
      listener(event);
    } catch {
      // a logging or metrics failure must not cost a record or the stream
    }
  };
  const maxPending = options.maxPendingRecords ?? 10_000;
  const admit = options.admit ?? loopbackSender;
  return (call, callback) => {
    // Decided before a single message is read: a refused stream writes nothing.
    const admission = admitSafely(admit, call);
    const refuse = (reason: RefusalReason, peer: string, detail: string, code: grpc.status) => {
      emit({ kind: 'stream_refused', reason, peer, detail });
      try {
        callback({ code, details: `audit receiver: ${reason}` });
      } catch {
        // the peer is already gone
      }
    };
    if (!admission.ok) {
      const code = admission.reason === 'no_client_certificate' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED;
      return refuse(admission.reason, admission.peer, admission.detail, code);
    }
    const sender = admission.sender;
    const budget = options.budget;
    if (budget && !budget.openStream()) {
      return refuse('too_many_streams', call.getPeer(), 'audit.receiver.max_streams streams are open', grpc.status.RESOURCE_EXHAUSTED);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      budget?.releaseStream();
    };
    let source = 'unknown-node/unnamed';
    let pending = 0;
    let stored = 0;
    let failure: Error | undefined;
    let answered = false;
    const inFlight = new Set<Promise<void>>();
    const answer = (error: Partial<grpc.StatusObject> | null): void => {
      release();
      if (answered) return;
      answered = true;
      try {
        if (error) callback(error);
        else callback(null, {});
      } catch {
        // the call was already cancelled by the peer: nothing left to tell it
      }
    };

    const receive = (message: StreamMessage): void => {
      // Envoy sends the identifier only on a stream's first message.
      if (message.identifier) {
        source = sourceOf(message.identifier);
        emit({ kind: 'stream_opened', source, sender });
      }
      let entries = message.http_logs?.log_entry ?? [];
      const granted = budget ? budget.takeEntries(entries.length) : entries.length;
      if (granted < entries.length) {
        const count = entries.length - granted;
        emit({ kind: 'entry_dropped', source, sender, reason: 'rate_limited', detail: 'above audit.receiver.max_entries_per_second', count });
        entries = entries.slice(0, granted);
      }
      const records: AuditRecord[] = [];
      for (const entry of entries) {
        const result = recordOf(entry, source, sender, options.privacy);
        if (result.ok) records.push(result.record);
        else emit({ kind: 'entry_dropped', source, sender, reason: result.reason, detail: result.detail });
      }
      if (records.length === 0) return;
      pending += records.length;
      if (pending > maxPending) call.pause();
      let appended: Promise<unknown>;
      try {
        appended = options.sink.append(records);
      } catch (error) {
        appended = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      const done = appended
        .then(
          () => void (stored += records.length),
          (error: Error) => {
            failure = error;
            emit({ kind: 'store_failed', source, sender, records: records.length, error: error.message });
          },
        )
        .finally(() => {
          pending -= records.length;
          inFlight.delete(done);
          try {
            if (pending <= maxPending) call.resume();
          } catch {
            // the stream is gone; the records are durable all the same
          }
        });
      inFlight.add(done);
    };

    // Every message is handled inside its own try: whatever one message does, the next one on this
    // stream, the other streams and the Check service on the same process keep working.
    call.on('data', (message: StreamMessage) => {
      try {
        receive(message);
      } catch (error) {
        emit({ kind: 'entry_dropped', source, sender, reason: 'message_failed', detail: messageOf(error) });
      }
    });
    call.on('error', (error) => {
      release();
      emit({ kind: 'stream_failed', source, sender, error: error.message });
    });
    // A peer that resets the stream gets no 'end': its slot is given back here.
    call.on('cancelled', release);
    call.on('end', () => {
      // allSettled: nothing here may become an unhandled rejection.
      void Promise.allSettled([...inFlight]).then(() => {
        emit({ kind: 'stream_closed', source, sender, records: stored });
        answer(failure ? { code: grpc.status.UNAVAILABLE, details: 'audit store unavailable' } : null);
      });
    });
  };
}

/** Adds the AccessLogService to a server you own (tests; `serve` and `audit serve` use startAccessLogServer). */
export function addAccessLogService(server: grpc.Server, options: AccessLogReceiverOptions): void {
  server.addService(accessLogServiceDefinition(), { StreamAccessLogs: handler(options) });
}

export interface AccessLogServer {
  readonly port: number;
  readonly server: grpc.Server;
  /** Stops accepting streams, lets open ones finish (up to `graceMs`), then forces them closed. */
  close(graceMs?: number): Promise<void>;
}

export interface AccessLogServerOptions extends AccessLogReceiverOptions {
  /** `host:port`; port 0 picks a free one. Beyond loopback only with `credentials` from mTLS. */
  readonly listen: string;
  /** mTLS credentials with client certificates required (receiver-server.ts); plaintext when absent. */
  readonly credentials?: grpc.ServerCredentials;
  /** grpc-js server options, e.g. grpc.max_receive_message_length and grpc.max_concurrent_streams. */
  readonly serverOptions?: grpc.ServerOptions;
}

/** The receiver on its own listener (never the Check port): `serve` and `modelgate audit serve`. */
export async function startAccessLogServer(options: AccessLogServerOptions): Promise<AccessLogServer> {
  // The last line of defence for callers that skip the config schema (a --listen flag).
  const exposed = options.credentials ? undefined : exposureProblem(options.listen, undefined);
  if (exposed) throw new Error(`audit.receiver.listen: ${exposed}`);
  const server = new grpc.Server(options.serverOptions);
  addAccessLogService(server, options);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, options.credentials ?? grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    port,
    server,
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
