// Who is calling the approvals endpoint: a verified client certificate (identity.mtls workloads map
// its SAN to a subject and roles) or a bearer JWT verified by the configured issuers. Both go through
// the Check's own identity sources (identity/mtls.ts, identity/jwt.ts): no second verifier.

import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { CheckInput } from '../check/check-input.js';
import type { Identity } from '../identity/identity.js';
import type { IdentitySource } from '../identity/result.js';

export type ApproverAuth =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly reason: string; readonly detail?: string };

export interface ApproverSources {
  /** The serving config's JWT source, current after a reload; undefined without identity.jwt. */
  readonly jwt: () => IdentitySource | undefined;
  /** A certificate-only mTLS source over identity.mtls.workloads. */
  readonly mtls: () => IdentitySource;
  readonly now: () => number;
}

/**
 * A presented certificate decides (it was offered on purpose); one the CA does not verify is refused,
 * never skipped for a token. Without a certificate, the Authorization bearer token decides.
 */
export async function authenticateApprover(req: IncomingMessage, sources: ApproverSources): Promise<ApproverAuth> {
  const socket = req.socket as Partial<TLSSocket>;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  if (peer && peer.raw) {
    if (!socket.authorized) return { ok: false, reason: 'certificate_invalid', detail: String(socket.authorizationError ?? 'not verified') };
    const pem = `-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
    return resolved(await sources.mtls().resolve(inputWith({}, encodeURIComponent(pem)), sources.now()));
  }
  const authorization = req.headers.authorization;
  if (authorization === undefined) return { ok: false, reason: 'no_credential' };
  const jwt = sources.jwt();
  if (!jwt) return { ok: false, reason: 'no_credential', detail: 'bearer tokens need identity.jwt' };
  // The JWT source reads its configured header; the approver always sends Authorization.
  const input = inputWith({ [jwt.credentialHeaders[0] ?? 'authorization']: authorization }, '');
  if (!jwt.present(input)) return { ok: false, reason: 'token_malformed', detail: 'expected Authorization: Bearer <token>' };
  return resolved(await jwt.resolve(input, sources.now()));
}

function resolved(result: Awaited<ReturnType<IdentitySource['resolve']>>): ApproverAuth {
  return result.ok ? { ok: true, identity: result.identity } : { ok: false, reason: result.reason, detail: result.detail };
}

function inputWith(headers: Record<string, string>, certificate: string): CheckInput {
  return {
    requestId: '',
    streamId: '',
    method: 'POST',
    path: '/',
    host: '',
    scheme: 'https',
    headers,
    contextExtensions: {},
    source: { principal: '', certificate, address: '' },
    filterMetadata: {},
  };
}
