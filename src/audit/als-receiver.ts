// gRPC AccessLogService (Envoy's http_grpc access logger): streams of log entries in, durable audit records out.

import * as grpc from '@grpc/grpc-js';
import { accessLogServiceDefinition } from './als-protos.js';
import { canonicalJson } from './canonical.js';
import { normalizeAlsEntry, type HttpAccessLogEntry } from './normalize-als.js';
import type { Privacy } from './privacy.js';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

/**
 * Why an entry did not become a record: `entry_invalid` is an entry no record can hold (a start time
 * outside google.protobuf.Timestamp's range); `entry_failed` is one whose record threw or could not
 * be encoded canonically (a bug of ours, kept off the chain so it cannot break the store);
 * `message_failed` is a whole message that threw before its entries were read.
 */
export type DropReason = 'entry_invalid' | 'entry_failed' | 'message_failed';

export type ReceiverEvent =
  | { kind: 'stream_opened'; source: string }
  | { kind: 'stream_closed'; source: string; records: number }
  | { kind: 'stream_failed'; source: string; error: string }
  | { kind: 'store_failed'; source: string; records: number; error: string }
  | { kind: 'entry_dropped'; source: string; reason: DropReason; detail: string };

export interface AccessLogReceiverOptions {
  readonly sink: AuditSink;
  readonly privacy: Privacy;
  /** Above this many records awaiting fsync on one stream, stop reading it (HTTP/2 flow control pushes back on Envoy). */
  readonly maxPendingRecords?: number;
  /** Never awaited; a listener that throws is ignored (see receiver-monitor.ts for counting and logging). */
  readonly onEvent?: (event: ReceiverEvent) => void;
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

type EntryResult = { ok: true; record: AuditRecord } | { ok: false; reason: DropReason; detail: string };

/** Never throws: whatever the sender put in the entry ends as a record or a drop reason. */
function recordOf(entry: HttpAccessLogEntry, source: string, privacy: Privacy): EntryResult {
  try {
    const result = normalizeAlsEntry(entry, { kind: 'envoy_als', id: source }, privacy);
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
  return (call, callback) => {
    let source = 'unknown-node/unnamed';
    let pending = 0;
    let stored = 0;
    let failure: Error | undefined;
    let answered = false;
    const inFlight = new Set<Promise<void>>();
    const answer = (error: Partial<grpc.StatusObject> | null): void => {
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
        emit({ kind: 'stream_opened', source });
      }
      const entries = message.http_logs?.log_entry ?? [];
      const records: AuditRecord[] = [];
      for (const entry of entries) {
        const result = recordOf(entry, source, options.privacy);
        if (result.ok) records.push(result.record);
        else emit({ kind: 'entry_dropped', source, reason: result.reason, detail: result.detail });
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
            emit({ kind: 'store_failed', source, records: records.length, error: error.message });
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
        emit({ kind: 'entry_dropped', source, reason: 'message_failed', detail: messageOf(error) });
      }
    });
    call.on('error', (error) => emit({ kind: 'stream_failed', source, error: error.message }));
    call.on('end', () => {
      // allSettled: nothing here may become an unhandled rejection.
      void Promise.allSettled([...inFlight]).then(() => {
        emit({ kind: 'stream_closed', source, records: stored });
        answer(failure ? { code: grpc.status.UNAVAILABLE, details: 'audit store unavailable' } : null);
      });
    });
  };
}

/** Adds the AccessLogService to a server you own, e.g. the Check server on port 9191. */
export function addAccessLogService(server: grpc.Server, options: AccessLogReceiverOptions): void {
  server.addService(accessLogServiceDefinition(), { StreamAccessLogs: handler(options) });
}

export interface AccessLogServer {
  readonly port: number;
  readonly server: grpc.Server;
  /** Stops accepting streams, lets open ones finish (up to `graceMs`), then forces them closed. */
  close(graceMs?: number): Promise<void>;
}

/** A standalone receiver (`modelgate audit serve`); `listen` is `host:port`, port 0 picks a free one. */
export async function startAccessLogServer(
  options: AccessLogReceiverOptions & { listen: string; credentials?: grpc.ServerCredentials },
): Promise<AccessLogServer> {
  const server = new grpc.Server();
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
