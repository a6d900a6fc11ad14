// Loads Envoy's ext_authz protos from the @grpc/grpc-js-xds package (never vendored) once per process.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';

const require = createRequire(import.meta.url);

/** Include dirs for Envoy's API protos as shipped inside @grpc/grpc-js-xds. */
export function envoyProtoIncludeDirs(): string[] {
  const root = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(root, d));
}

/**
 * keepCase keeps Envoy's snake_case field names; enums as strings so `append_action` reads as
 * its name; defaults off so absent fields stay undefined and cost nothing to decode.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: envoyProtoIncludeDirs(),
};

let cached: protoLoader.PackageDefinition | undefined;

export function extAuthzPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(['envoy/service/auth/v3/external_auth.proto'], PROTO_LOADER_OPTIONS);
  return cached;
}

export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';

export function authorizationServiceDefinition(): grpc.ServiceDefinition {
  const def = extAuthzPackageDefinition()[AUTHORIZATION_SERVICE];
  if (!def || !('Check' in def)) throw new Error(`${AUTHORIZATION_SERVICE} missing from Envoy protos`);
  return def as unknown as grpc.ServiceDefinition;
}

/** `Unauthorized` → 401: Envoy's `envoy.type.v3.StatusCode` enum, read from the proto itself. */
export function httpStatusNumber(name: string): number | undefined {
  const def = extAuthzPackageDefinition()['envoy.type.v3.StatusCode'] as { type?: { value?: Array<{ name: string; number: number }> } } | undefined;
  return def?.type?.value?.find((v) => v.name === name)?.number;
}
