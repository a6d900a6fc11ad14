// Who may write into the audit trail: the receiver's listen address (loopback, or beyond it only with
// mTLS), and for each stream the authenticated sender it records, or the reason it is refused.

import { isLoopbackAddress } from '../net/listen.js';
import type { PeerCertificate } from 'node:tls';

/** The problem with a receiver that anyone on the network could write into, or undefined. */
export function exposureProblem(listen: string, tls: unknown): string | undefined {
  if (tls !== undefined || isLoopbackAddress(listen)) return undefined;
  return (
    `${listen} is reachable beyond loopback without audit.receiver.tls: anyone who can reach it could ` +
    'write forged entries into the audit trail; set audit.receiver.tls (mTLS with allowed_sans) or listen on 127.0.0.1'
  );
}

/** Why a stream was refused before any of its entries were read. */
export type RefusalReason = 'no_client_certificate' | 'sender_not_allowed' | 'too_many_streams';

export type Admission = { ok: true; sender: string } | { ok: false; reason: RefusalReason; peer: string; detail: string };

/** The parts of a grpc-js server call that say who is on the other end. */
export interface CallPeer {
  getPeer(): string;
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null | undefined;
}

/** Decides, per stream, which sender it is (never the self-declared node id). */
export type SenderCheck = (call: CallPeer) => Admission;

/** A plaintext receiver is admitted only on loopback (checked at start): every stream is "loopback". */
export const loopbackSender: SenderCheck = () => ({ ok: true, sender: 'loopback' });

/**
 * Node's `subjectaltname` text (`URI:spiffe://a, DNS:b`; a name holding a comma or quote is written
 * as a JSON string) as [type, value] pairs, in certificate order.
 */
export function parseSubjectAltName(text: string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (let m = entry.exec(text ?? ''); m; m = entry.exec(text ?? '')) {
    const raw = m[2]!;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        value = raw;
      }
    }
    out.push([m[1]!, value]);
    if (entry.lastIndex >= (text ?? '').length) break;
  }
  return out;
}

/** Envoy's rule for a peer's identity: its first URI SAN, else its first DNS SAN. */
export function peerIdentity(cert: PeerCertificate | undefined): string | undefined {
  const sans = parseSubjectAltName(cert?.subjectaltname);
  return sans.find(([type]) => type === 'URI')?.[1] ?? sans.find(([type]) => type === 'DNS')?.[1];
}

/**
 * For an mTLS receiver. grpc-js reports a certificate only for a connection whose chain verified
 * against the client CA (the handshake already refused the rest); the identity must then be one of
 * `allowed` exactly, since a CA may sign for far more workloads than may write the trail.
 */
export function allowedSenders(allowed: readonly string[]): SenderCheck {
  const set = new Set(allowed);
  return (call) => {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (!cert) return { ok: false, reason: 'no_client_certificate', peer: call.getPeer(), detail: 'no verified client certificate' };
    const identity = peerIdentity(cert);
    if (identity !== undefined && set.has(identity)) return { ok: true, sender: identity };
    return { ok: false, reason: 'sender_not_allowed', peer: call.getPeer(), detail: `client certificate identity ${JSON.stringify(identity ?? '')} is not in audit.receiver.tls.allowed_sans` };
  };
}
