// Loads Envoy's AccessLogService protos from the installed @grpc/grpc-js-xds package (never copied into the repo).

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ALS_SERVICE_PATH = 'envoy.service.accesslog.v3.AccessLogService';

/** The proto-loader options both our server and the test clients use; uint64 as strings, enums as names. */
export const ALS_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

function includeDirs(): string[] {
  const pkg = dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(pkg, 'deps', d));
}

let cached: grpc.ServiceDefinition | undefined;

/** The AccessLogService definition; loaded once (parsing Envoy's proto tree takes a few hundred ms). */
export function accessLogServiceDefinition(): grpc.ServiceDefinition {
  if (cached) return cached;
  const definition = protoLoader.loadSync('envoy/service/accesslog/v3/als.proto', {
    ...ALS_LOADER_OPTIONS,
    includeDirs: includeDirs(),
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { accesslog: { v3: { AccessLogService: grpc.ServiceClientConstructor } } } };
  };
  cached = loaded.envoy.service.accesslog.v3.AccessLogService.service;
  return cached;
}

/** A client constructor for tests and tools that speak to our receiver the way Envoy does. */
export function accessLogServiceClient(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(accessLogServiceDefinition(), 'AccessLogService');
}
