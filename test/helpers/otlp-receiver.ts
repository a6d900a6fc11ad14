// A real OTLP trace receiver for tests: OTLP/gRPC (TraceService/Export) and OTLP/HTTP protobuf
// (POST /v1/traces) on free loopback ports, decoding with the OpenTelemetry protos' generated code
// that @opentelemetry/otlp-transformer ships. Envoy's tracer and modelgate export to the same one.

import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';

interface Decoder {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: object): unknown;
  encode(message: object): { finish(): Uint8Array };
}
const root = createRequire(import.meta.url)('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: Record<'ExportTraceServiceRequest' | 'ExportTraceServiceResponse', Decoder> } } } };
};
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = root.opentelemetry.proto.collector.trace.v1;

export interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 2 = SERVER, 3 = CLIENT. */
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Record<string, unknown>;
  readonly events: ReadonlyArray<{ name: string; timeNs: bigint; attributes: Record<string, unknown> }>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: { code: number; message: string };
}

export interface OtlpReceiver {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly spans: ReceivedSpan[];
  /** Export requests received, by transport (a sampled-out check sends nothing). */
  readonly requests: { grpc: number; http: number };
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number; arrayValue?: { values?: AnyValue[] } };
type KeyValue = { key: string; value?: AnyValue };
type Obj = Record<string, unknown>;

function value(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue ?? v.doubleValue;
}

function attributes(list: unknown): Record<string, unknown> {
  return Object.fromEntries(((list as KeyValue[] | undefined) ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/** Decodes one ExportTraceServiceRequest into flat spans. */
export function decodeSpans(bytes: Uint8Array): ReceivedSpan[] {
  const request = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(bytes), { longs: String, bytes: String, defaults: true }) as Obj;
  const hex = (b64: unknown) => Buffer.from(String(b64 ?? ''), 'base64').toString('hex');
  const out: ReceivedSpan[] = [];
  for (const rs of (request.resourceSpans as Obj[]) ?? []) {
    const service = String(attributes((rs.resource as Obj | undefined)?.attributes)['service.name'] ?? '');
    for (const ss of (rs.scopeSpans as Obj[]) ?? []) {
      for (const s of (ss.spans as Obj[]) ?? []) {
        const status = (s.status as Obj | undefined) ?? {};
        out.push({
          service,
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: String(s.name),
          kind: Number(s.kind),
          startNs: BigInt(String(s.startTimeUnixNano)),
          endNs: BigInt(String(s.endTimeUnixNano)),
          attributes: attributes(s.attributes),
          events: ((s.events as Obj[]) ?? []).map((e) => ({ name: String(e.name), timeNs: BigInt(String(e.timeUnixNano)), attributes: attributes(e.attributes) })),
          status: { code: Number(status.code ?? 0), message: String(status.message ?? '') },
        });
      }
    }
  }
  return out;
}

const EMPTY_RESPONSE = Buffer.from(ExportTraceServiceResponse.encode({}).finish());

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests = { grpc: 0, http: 0 };

  const server = new grpc.Server();
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestDeserialize: (bytes: Buffer) => bytes,
        requestSerialize: (bytes: Buffer) => bytes,
        responseSerialize: (bytes: Buffer) => bytes,
        responseDeserialize: (bytes: Buffer) => bytes,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        requests.grpc += 1;
        spans.push(...decodeSpans(call.request));
        callback(null, EMPTY_RESPONSE);
      },
    },
  );
  const grpcPort = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? fail(error) : ok(port))),
  );

  const http: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(404).end();
        return;
      }
      requests.http += 1;
      spans.push(...decodeSpans(Buffer.concat(chunks)));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(EMPTY_RESPONSE);
    });
  });
  await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));

  return {
    grpcPort,
    httpPort: (http.address() as AddressInfo).port,
    spans,
    requests,
    async close() {
      server.forceShutdown();
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
