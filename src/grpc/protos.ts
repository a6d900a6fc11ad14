// Loads Envoy's protos from the @grpc/grpc-js-xds package (never vendored), once per process: the one
// proto-loader setup for every Envoy service modelgate serves (ext_authz here, the access-log
// receiver's AccessLogService in audit/als-protos.ts).

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';

const require = createRequire(import.meta.url);

/** Include dirs for Envoy's API protos as shipped inside @grpc/grpc-js-xds. */
export function envoyProtoIncludeDirs(): string[] {
  const root = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(root, 'deps', d));
}

/**
 * keepCase keeps Envoy's snake_case field names; longs (uint64) as strings; enums as strings so
 * `append_action` reads as its name; defaults off so absent fields stay undefined and cost nothing to decode.
 */
const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

/** Envoy proto files (paths under envoy-api), parsed with the options above; parsing takes a few hundred ms. */
export function loadEnvoyProtos(files: readonly string[]): protoLoader.PackageDefinition {
  return protoLoader.loadSync([...files], { ...PROTO_LOADER_OPTIONS, includeDirs: envoyProtoIncludeDirs() });
}

/** A service of a loaded package, by its full name; throws if the protos do not define it. */
export function serviceDefinition(definition: protoLoader.PackageDefinition, service: string): grpc.ServiceDefinition {
  const def = definition[service];
  if (!def || 'format' in def || 'type' in def) throw new Error(`${service} missing from Envoy protos`);
  return def as unknown as grpc.ServiceDefinition;
}

let cached: protoLoader.PackageDefinition | undefined;

export function extAuthzPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= loadEnvoyProtos(['envoy/service/auth/v3/external_auth.proto']);
  return cached;
}

export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';

export function authorizationServiceDefinition(): grpc.ServiceDefinition {
  return serviceDefinition(extAuthzPackageDefinition(), AUTHORIZATION_SERVICE);
}

/** `Unauthorized` → 401: Envoy's `envoy.type.v3.StatusCode` enum, read from the proto itself. */
export function httpStatusNumber(name: string): number | undefined {
  const def = extAuthzPackageDefinition()['envoy.type.v3.StatusCode'] as { type?: { value?: Array<{ name: string; number: number }> } } | undefined;
  return def?.type?.value?.find((v) => v.name === name)?.number;
}

let cachedExtProc: protoLoader.PackageDefinition | undefined;

/** Envoy's ExternalProcessor (ext_proc v3), served on the Check port for the response path. */
export function extProcPackageDefinition(): protoLoader.PackageDefinition {
  cachedExtProc ??= loadEnvoyProtos(['envoy/service/ext_proc/v3/external_processor.proto']);
  return cachedExtProc;
}

export const EXTERNAL_PROCESSOR_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

export function externalProcessorServiceDefinition(): grpc.ServiceDefinition {
  return serviceDefinition(extProcPackageDefinition(), EXTERNAL_PROCESSOR_SERVICE);
}
