// gRPC AccessLogService (Envoy's http_grpc access logger): streams of log entries in, durable audit records out.

import * as grpc from '@grpc/grpc-js';
import { accessLogServiceDefinition } from './als-protos.js';
import { normalizeAlsEntry, type HttpAccessLogEntry } from './normalize-als.js';
import type { Privacy } from './privacy.js';
import type { AuditSink } from './sink.js';

export type ReceiverEvent =
  | { kind: 'stream_opened'; source: string }
  | { kind: 'stream_closed'; source: string; records: number }
  | { kind: 'stream_failed'; source: string; error: string }
  | { kind: 'store_failed'; source: string; records: number; error: string };

export interface AccessLogReceiverOptions {
  readonly sink: AuditSink;
  readonly privacy: Privacy;
  /** Above this many records awaiting fsync on one stream, stop reading it (HTTP/2 flow control pushes back on Envoy). */
  readonly maxPendingRecords?: number;
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

function handler(options: AccessLogReceiverOptions): grpc.handleClientStreamingCall<StreamMessage, object> {
  const emit = options.onEvent ?? (() => undefined);
  const maxPending = options.maxPendingRecords ?? 10_000;
  return (call, callback) => {
    let source = 'unknown-node/unnamed';
    let pending = 0;
    let stored = 0;
    let failure: Error | undefined;
    const inFlight = new Set<Promise<void>>();
    call.on('data', (message: StreamMessage) => {
      // Envoy sends the identifier only on a stream's first message.
      if (message.identifier) {
        source = sourceOf(message.identifier);
        emit({ kind: 'stream_opened', source });
      }
      const entries = message.http_logs?.log_entry ?? [];
      if (entries.length === 0) return;
      const records = entries.map((e) => normalizeAlsEntry(e, { kind: 'envoy_als', id: source }, options.privacy));
      pending += records.length;
      if (pending > maxPending) call.pause();
      const done = options.sink
        .append(records)
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
          if (pending <= maxPending) call.resume();
        });
      inFlight.add(done);
    });
    call.on('error', (error) => emit({ kind: 'stream_failed', source, error: error.message }));
    call.on('end', () => {
      void Promise.all(inFlight).then(() => {
        emit({ kind: 'stream_closed', source, records: stored });
        if (failure) callback({ code: grpc.status.UNAVAILABLE, details: 'audit store unavailable' });
        else callback(null, {});
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
