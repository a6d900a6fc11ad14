// A real grpc-js AccessLogService client, as Envoy's http_grpc logger speaks it, and Envoy-shaped entries.

import * as grpc from '@grpc/grpc-js';
import { accessLogServiceClient } from '../../../src/audit/als-protos.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';

export const IDENTIFIER = { node: { id: 'envoy-edge-1', cluster: 'edge' }, log_name: 'modelgate_audit' };

/** One HTTPAccessLogEntry as proto-loader encodes it (uint64 as strings), with modelgate's metadata. */
export function goodEntry(requestId: string, seconds = 1_735_689_600): Record<string, unknown> {
  return {
    common_properties: {
      start_time: { seconds: String(seconds), nanos: 250_000_000 },
      duration: { seconds: '0', nanos: 12_500_000 },
      downstream_remote_address: { socket_address: { address: '10.1.2.3', port_value: 40000 } },
      metadata: {
        filter_metadata: {
          'envoy.filters.http.ext_authz': jsonToStruct({ request_id: requestId, decision: 'allow', reason: 'allowed', subject: 'svc:chatbot' }),
        },
      },
    },
    protocol_version: 'HTTP2',
    request: { request_method: 'POST', authority: 'models', path: '/v1/models/m:predict', request_id: requestId },
    response: { response_code: { value: 200 }, response_body_bytes: '12' },
  };
}

/** The entry that used to end the process: a start time no Date can hold (RangeError in toISOString). */
export function farFutureEntry(requestId: string): Record<string, unknown> {
  const entry = goodEntry(requestId);
  (entry.common_properties as Record<string, unknown>).start_time = { seconds: '9000000000000000', nanos: 0 };
  return entry;
}

export interface AlsCall {
  write(message: unknown): boolean;
  end(): void;
}

type AlsClient = grpc.Client & { StreamAccessLogs(cb: (error: grpc.ServiceError | null) => void): AlsCall };

/** Streams the given StreamAccessLogsMessages on one call; resolves with the call's final status. */
export function streamMessages(
  port: number,
  messages: readonly unknown[],
  credentials = grpc.credentials.createInsecure(),
  channelOptions: grpc.ChannelOptions = {},
): Promise<grpc.ServiceError | null> {
  const Client = accessLogServiceClient();
  const client = new Client(`127.0.0.1:${port}`, credentials, channelOptions) as unknown as AlsClient;
  return new Promise((resolve) => {
    const call = client.StreamAccessLogs((error) => {
      client.close();
      resolve(error);
    });
    for (const message of messages) call.write(message);
    call.end();
  });
}

/** One message per batch, the identifier on the first only, as Envoy sends them. */
export function batches(...entries: unknown[][]): unknown[] {
  return entries.map((log_entry, n) => ({ ...(n === 0 ? { identifier: IDENTIFIER } : {}), http_logs: { log_entry } }));
}

/** A stream left open after its first message (a slot held), for stream-limit tests; `end()` finishes it. */
export function openStream(port: number, messages: readonly unknown[]): { end(): void; result: Promise<grpc.ServiceError | null> } {
  const Client = accessLogServiceClient();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as AlsClient;
  let call!: AlsCall;
  const result = new Promise<grpc.ServiceError | null>((resolve) => {
    call = client.StreamAccessLogs((error) => {
      client.close();
      resolve(error);
    });
  });
  for (const message of messages) call.write(message);
  return { end: () => call.end(), result };
}
