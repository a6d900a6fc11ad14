// The receiver's access rules: which listen addresses are loopback, and which identity a certificate names.

import { describe, expect, it } from 'vitest';
import { allowedSenders, exposureProblem, parseSubjectAltName, peerIdentity } from '../../../src/audit/receiver-access.js';
import { isLoopbackAddress } from '../../../src/net/listen.js';
import type { PeerCertificate } from 'node:tls';

const cert = (subjectaltname: string) => ({ subjectaltname }) as PeerCertificate;

describe('isLoopbackAddress', () => {
  it.each(['127.0.0.1:9194', '127.1.2.3:0', 'localhost:9194', '[::1]:9194', 'unix:/run/modelgate/als.sock'])('%s is loopback', (listen) => {
    expect(isLoopbackAddress(listen)).toBe(true);
  });
  it.each(['0.0.0.0:9194', '[::]:9194', '10.0.0.5:9194', 'modelgate:9194', '[::ffff:127.0.0.1]:9194', ':9194', 'localhost.evil.example:9194'])(
    '%s is reachable from the network',
    (listen) => {
      expect(isLoopbackAddress(listen)).toBe(false);
      expect(exposureProblem(listen, undefined)).toContain('without audit.receiver.tls');
      expect(exposureProblem(listen, {})).toBeUndefined();
    },
  );
});

describe('peerIdentity (first URI SAN, else first DNS SAN)', () => {
  it('takes the first URI SAN even after DNS SANs', () => {
    expect(peerIdentity(cert('DNS:envoy.internal, URI:spiffe://td/ns/edge/sa/envoy, URI:spiffe://td/other'))).toBe('spiffe://td/ns/edge/sa/envoy');
  });
  it('falls back to the first DNS SAN, and to nothing', () => {
    expect(peerIdentity(cert('IP Address:10.0.0.1, DNS:a.internal, DNS:b.internal'))).toBe('a.internal');
    expect(peerIdentity(cert('IP Address:10.0.0.1'))).toBeUndefined();
    expect(peerIdentity(undefined)).toBeUndefined();
  });
  it('reads a quoted name whole: a comma inside cannot smuggle a second entry', () => {
    expect(parseSubjectAltName('URI:"spiffe://td/x, URI:spiffe://td/ns/edge/sa/envoy", DNS:b')).toEqual([
      ['URI', 'spiffe://td/x, URI:spiffe://td/ns/edge/sa/envoy'],
      ['DNS', 'b'],
    ]);
  });
});

describe('allowedSenders', () => {
  const call = (c: PeerCertificate | undefined) => ({ getPeer: () => 'ipv4:10.0.0.9:5555', getAuthContext: () => (c ? { sslPeerCertificate: c } : {}) });
  const check = allowedSenders(['spiffe://td/ns/edge/sa/envoy']);
  it('admits an exact match and names it', () => {
    expect(check(call(cert('URI:spiffe://td/ns/edge/sa/envoy')))).toEqual({ ok: true, sender: 'spiffe://td/ns/edge/sa/envoy' });
  });
  it('refuses a prefix, a later SAN and no certificate', () => {
    expect(check(call(cert('URI:spiffe://td/ns/edge/sa/envoy-2')))).toMatchObject({ ok: false, reason: 'sender_not_allowed', peer: 'ipv4:10.0.0.9:5555' });
    expect(check(call(cert('URI:spiffe://td/x, URI:spiffe://td/ns/edge/sa/envoy')))).toMatchObject({ ok: false, reason: 'sender_not_allowed' });
    expect(check(call(undefined))).toMatchObject({ ok: false, reason: 'no_client_certificate' });
  });
});
