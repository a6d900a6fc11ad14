// The gRPC server: ext_authz Check, standard health, optional TLS for the Envoy→modelgate hop, and
// a graceful stop that lets in-flight checks finish.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Config } from '../config/schema.js';
import type { Authorizer, OnInternalError } from '../check/authorizer-port.js';
import { checkHandler, type DecodedCheck, type OnAbandoned } from './check-handler.js';
import { decodeCheckInput, INVALID_REQUEST } from './decode-wire.js';
import { authorizationServiceDefinition, AUTHORIZATION_SERVICE } from './protos.js';

export interface GrpcServerHandle {
  readonly server: grpc.Server;
  readonly port: number;
  readonly health: HealthImplementation;
  /**
   * What grpc.health.v1 answers (Envoy's cluster health check): the readiness of this instance, the
   * same verdict /readyz gives. Ignored once shutdown has begun, which always says NOT_SERVING.
   */
  setServing(serving: boolean): void;
  /** Stop accepting, let in-flight calls finish for up to graceMs, then cut the rest. */
  shutdown(graceMs: number): Promise<void>;
}

export interface GrpcServerOptions {
  readonly config: Config['server'];
  readonly baseDir: string;
  readonly authorize: Authorizer;
  /** A check Envoy reset before it ran (its timeout passed while modelgate was stalled). */
  readonly onAbandoned?: OnAbandoned;
  /** Failures the Check handler catches after the decision (encoding, sending, logging). */
  readonly onError?: OnInternalError;
  /** Extra services on the same port (the access-log receiver, reflection). */
  readonly extend?: (server: grpc.Server) => void;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const cfg = options.config.grpc;
  // Measured and left at grpc-js's defaults (docs/performance.md, "Check path ceiling"):
  // grpc.enable_channelz 0 saves a few Date.now() calls and closures per call, below what the
  // paired A/B resolves here. grpc.max_concurrent_streams measured slower and would make Envoy,
  // which sends every check of a worker over one connection, queue checks beyond the cap.
  const server = new grpc.Server({
    'grpc.max_receive_message_length': cfg.max_receive_message_bytes,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.addService(checkServiceDefinition(), {
    Check: checkHandler(options.authorize, { onAbandoned: options.onAbandoned, onError: options.onError }),
  });
  const health = new HealthImplementation({ '': 'SERVING', [AUTHORIZATION_SERVICE]: 'SERVING' });
  health.addToServer(server);
  options.extend?.(server);

  const credentials = serverCredentials(cfg.tls, options.baseDir);
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync(cfg.address, credentials, (error, p) => (error ? fail(error) : ok(p))),
  ).catch((error: unknown) => {
    server.forceShutdown(); // nothing is bound, but the server's own timers must not outlive a failed start
    throw error;
  });

  let status: 'SERVING' | 'NOT_SERVING' = 'SERVING';
  let stopping = false;
  const setStatus = (next: 'SERVING' | 'NOT_SERVING') => {
    if (next === status) return; // setStatus wakes every Watch stream: only on a change
    status = next;
    health.setStatus('', next);
    health.setStatus(AUTHORIZATION_SERVICE, next);
  };

  return {
    server,
    port,
    health,
    setServing: (serving) => {
      if (!stopping) setStatus(serving ? 'SERVING' : 'NOT_SERVING');
    },
    shutdown: (graceMs) =>
      new Promise<void>((done) => {
        stopping = true;
        setStatus('NOT_SERVING');
        const timer = setTimeout(() => {
          server.forceShutdown();
          done();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          done();
        });
      }),
  };
}

/**
 * Envoy's Check method with modelgate's own wire codecs: requests are read straight into CheckInput
 * (decode-wire.ts, no message objects) and the handler writes CheckResponse bytes itself
 * (encode-wire.ts), so the response serializer passes them through.
 */
function checkServiceDefinition(): grpc.ServiceDefinition {
  const def = authorizationServiceDefinition();
  return { ...def, Check: { ...def.Check!, requestDeserialize: decodeCheck, responseSerialize: (bytes: Buffer) => bytes } };
}

function decodeCheck(bytes: Buffer): DecodedCheck {
  try {
    // Never undefined: grpc-js would take that for a missing message and answer UNIMPLEMENTED.
    return decodeCheckInput(bytes) ?? INVALID_REQUEST;
  } catch {
    // The decoder returns INVALID_REQUEST for bad bytes; this only guards against its own bugs,
    // which grpc-js would otherwise answer with an error Envoy treats by failure_mode_allow.
    return INVALID_REQUEST;
  }
}

function serverCredentials(tls: Config['server']['grpc']['tls'], baseDir: string): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const read = (f: string) => readFileSync(resolve(baseDir, f));
  const ca = tls.client_ca_file ? read(tls.client_ca_file) : null;
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: read(tls.cert_file), private_key: read(tls.key_file) }],
    // The schema refuses require_client_cert without client_ca_file, so this never means "anyone".
    tls.require_client_cert,
  );
}
