// gRPC server reflection, so grpcurl and similar tools can list and call the ext_authz service
// without the Envoy protos on hand.

import type * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { extAuthzPackageDefinition } from './protos.js';

export function addReflection(server: Pick<grpc.Server, 'addService'>): void {
  new ReflectionService(extAuthzPackageDefinition()).addToServer(server);
}
