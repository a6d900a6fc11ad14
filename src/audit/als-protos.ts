// Envoy's AccessLogService, loaded through the one Envoy proto setup (grpc/protos.ts).

import * as grpc from '@grpc/grpc-js';
import { loadEnvoyProtos, serviceDefinition } from '../grpc/protos.js';

export const ALS_SERVICE_PATH = 'envoy.service.accesslog.v3.AccessLogService';

let cached: grpc.ServiceDefinition | undefined;

/** The AccessLogService definition; loaded once (parsing Envoy's proto tree takes a few hundred ms). */
export function accessLogServiceDefinition(): grpc.ServiceDefinition {
  cached ??= serviceDefinition(loadEnvoyProtos(['envoy/service/accesslog/v3/als.proto']), ALS_SERVICE_PATH);
  return cached;
}

/** A client constructor for tests and tools that speak to our receiver the way Envoy does. */
export function accessLogServiceClient(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(accessLogServiceDefinition(), 'AccessLogService');
}
