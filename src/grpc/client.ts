// A Check client over a real socket, for `modelgate check`, the tests and the benchmark.

import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { PbCheckRequest, PbCheckResponse, PbStruct } from './envoy-types.js';
import { authorizationServiceDefinition } from './protos.js';

export interface CheckClient {
  /** `metadata` rides on the call itself, as Envoy's gRPC client sends its trace context. */
  check(request: PbCheckRequest, deadlineMs?: number, metadata?: grpc.Metadata): Promise<PbCheckResponse>;
  /** The response exactly as it came off the wire, to assert on the encoded bytes. */
  checkRaw(request: PbCheckRequest, deadlineMs?: number): Promise<Buffer>;
  close(): void;
}

export function checkClient(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): CheckClient {
  const def = authorizationServiceDefinition();
  const Client = grpc.makeGenericClientConstructor(def, 'Authorization');
  const client = new Client(address, credentials, options);
  const method = def.Check!;
  const call = <T>(request: PbCheckRequest, deserialize: (b: Buffer) => T, deadlineMs: number, metadata = new grpc.Metadata()) =>
    new Promise<T>((resolve, reject) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        deserialize,
        request,
        metadata,
        { deadline: Date.now() + deadlineMs },
        (error, value) => (error ? reject(error) : resolve(value as T)),
      );
    });
  return {
    check: (request, deadlineMs = 5000, metadata) =>
      call(request, method.responseDeserialize as (b: Buffer) => PbCheckResponse, deadlineMs, metadata),
    checkRaw: (request, deadlineMs = 5000) => call(request, (b) => b, deadlineMs),
    close: () => client.close(),
  };
}

export interface EnvoyRequestOptions {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly partialBody?: boolean;
  readonly principal?: string;
  /** PEM; URL-encoded here the way Envoy does for include_peer_certificate. */
  readonly certificatePem?: string;
  readonly contextExtensions?: Record<string, string>;
  /** metadata_context.filter_metadata, e.g. the jwt_authn payload. */
  readonly filterMetadata?: Record<string, PbStruct>;
  readonly requestId?: string;
}

/** A CheckRequest shaped like the ones Envoy sends: pseudo-headers, x-request-id, peers, stream id. */
export function envoyCheckRequest(o: EnvoyRequestOptions = {}): PbCheckRequest {
  const method = o.method ?? 'POST';
  const path = o.path ?? '/v1/models/fraud-detector:predict';
  const host = o.host ?? 'models.example.com';
  const headers: Record<string, string> = {
    ':authority': host,
    ':method': method,
    ':path': path,
    ':scheme': 'https',
    'user-agent': 'python-requests/2.32.3',
    accept: '*/*',
    'content-type': 'application/json',
    'x-forwarded-proto': 'https',
    'x-request-id': o.requestId ?? randomUUID(),
    'x-envoy-expected-rq-timeout-ms': '15000',
    ...o.headers,
  };
  if (o.body !== undefined) {
    headers['content-length'] = String(Buffer.byteLength(o.body));
    headers['x-envoy-auth-partial-body'] = o.partialBody ? 'true' : 'false';
  }
  return {
    attributes: {
      source: {
        address: { socket_address: { address: '10.0.3.17', port_value: 53122 } },
        principal: o.principal ?? '',
        certificate: o.certificatePem ? encodeURIComponent(o.certificatePem) : '',
      },
      destination: { address: { socket_address: { address: '10.0.0.5', port_value: 8443 } }, principal: 'spiffe://modelgate.local/ns/edge/sa/envoy' },
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: {
          id: String(Math.floor(Math.random() * 1e18)),
          method,
          headers,
          path,
          host,
          scheme: 'https',
          protocol: 'HTTP/2',
          size: o.body !== undefined ? String(Buffer.byteLength(o.body)) : '0',
          body: o.body,
        },
      },
      context_extensions: o.contextExtensions,
      metadata_context: o.filterMetadata ? { filter_metadata: o.filterMetadata } : undefined,
    },
  };
}
