// Which Check ports answer beyond loopback without TLS: the warning `serve` logs at startup and
// `validate` prints, so an operator sees an exposed, unauthenticated Check port before an attacker does.

import type { Config } from '../config/schema.js';
import { isLoopbackAddress } from '../net/listen.js';

export interface Exposure {
  /** Config key of the listener (`server.grpc`, `server.http`). */
  readonly key: string;
  readonly address: string;
  /** True when `allow_plaintext_beyond_loopback` says the hop is protected another way. */
  readonly acknowledged: boolean;
  readonly message: string;
}

/**
 * A caller that reaches a Check port can claim any `source.principal`, forge any header the
 * proxy would have set, and so borrow a workload's identity or drain its rate limits. Loopback
 * (or mTLS on the gRPC port) is what keeps that caller out.
 */
export function plaintextExposures(server: Config['server']): Exposure[] {
  const out: Exposure[] = [];
  const grpc = server.grpc;
  if (!grpc.tls && !isLoopbackAddress(grpc.address)) {
    out.push(exposure('server.grpc', grpc.address, grpc.allow_plaintext_beyond_loopback, 'without TLS: any host that reaches it can claim any principal'));
  }
  const http = server.http;
  if (http.enabled && !isLoopbackAddress(http.address)) {
    out.push(exposure('server.http', http.address, http.allow_plaintext_beyond_loopback, 'and trusts every control header it is sent (method, URI, client certificate)'));
  }
  return out;
}

function exposure(key: string, address: string, acknowledged: boolean, risk: string): Exposure {
  const fix = acknowledged
    ? `${key}.allow_plaintext_beyond_loopback is true: the hop must be protected another way (mesh mTLS, private network)`
    : `bind it to 127.0.0.1, ${key === 'server.grpc' ? 'set server.grpc.tls with client_ca_file, ' : ''}or set ${key}.allow_plaintext_beyond_loopback: true once the hop is protected another way (docs/security.md)`;
  return { key, address, acknowledged, message: `${key} listens on ${address} beyond loopback ${risk}; ${fix}` };
}
