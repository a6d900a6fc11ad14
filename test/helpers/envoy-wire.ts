// protobufjs types for Envoy's ext_authz messages, to build and inspect raw wire bytes in tests.

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { envoyProtoIncludeDirs } from '../../src/grpc/protos.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

let root: protobuf.Root | undefined;

export function envoyRoot(): protobuf.Root {
  if (root) return root;
  const dirs = envoyProtoIncludeDirs();
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    for (const d of dirs) if (existsSync(join(d, target))) return join(d, target);
    return target;
  };
  r.loadSync('envoy/service/auth/v3/external_auth.proto', { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

export const CheckRequestType = () => envoyRoot().lookupType('envoy.service.auth.v3.CheckRequest');
export const CheckResponseType = () => envoyRoot().lookupType('envoy.service.auth.v3.CheckResponse');

/** Decodes response bytes into plain objects with enum names, as an independent reader of the wire. */
export function decodeCheckResponse(bytes: Buffer): Record<string, any> {
  const type = CheckResponseType();
  return type.toObject(type.decode(bytes), { enums: String, longs: String, defaults: false, oneofs: true }) as Record<string, any>;
}

/** CheckRequest protobuf bytes from a proto-loader-shaped object (e.g. envoyCheckRequest()). */
export function encodeCheckRequest(obj: object): Buffer {
  const type = CheckRequestType();
  return Buffer.from(type.encode(type.fromObject(obj)).finish());
}

/** One Check call with raw bytes both ways, as a test of the wire needs: no client-side codec. */
export function rawCheck(client: grpc.Client, bytes: Buffer, deadlineMs = 5_000): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest(
      '/envoy.service.auth.v3.Authorization/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, value) => (err ? reject(err) : resolve(value!)),
    ),
  );
}
