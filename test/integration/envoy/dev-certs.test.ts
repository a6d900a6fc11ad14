// scripts/dev-certs.sh, run for real into a temp dir: the client certificates carry the SPIFFE
// URI SANs modelgate's demo policy names and chain to the dev CA that envoy/edge.yaml trusts.

import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve(import.meta.dirname, '../../../scripts/dev-certs.sh');

let dir: string;
const cert = (name: string) => new X509Certificate(readFileSync(path.join(dir, `${name}.crt`)));
const key = (name: string) => createPrivateKey(readFileSync(path.join(dir, `${name}.key`)));

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelgate-dev-certs-'));
  execFileSync('bash', [SCRIPT, dir], { stdio: 'pipe' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scripts/dev-certs.sh', () => {
  it('makes a CA that signs certificates and nothing else', () => {
    const ca = cert('ca');
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.keyUsage ?? []).not.toContain('1.3.6.1.5.5.7.3.1');
  });

  it.each([
    ['batch-scorer', 'spiffe://modelgate.local/ns/ml/sa/batch-scorer'],
    ['frontend', 'spiffe://modelgate.local/ns/web/sa/frontend'],
    ['outsider', 'spiffe://elsewhere.example/ns/x/sa/y'],
  ])('%s: carries URI SAN %s, chains to the CA, matches its key', (name, spiffeId) => {
    const leaf = cert(name);
    expect(leaf.subjectAltName).toBe(`URI:${spiffeId}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(cert('ca'))).toBe(true);
    expect(leaf.verify(cert('ca').publicKey)).toBe(true);
    expect(leaf.checkPrivateKey(key(name))).toBe(true);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
  });

  it('only the allowed and denied workloads are inside the trust domain Envoy accepts', () => {
    const inDomain = ['batch-scorer', 'frontend', 'outsider'].filter((n) =>
      (cert(n).subjectAltName ?? '').startsWith('URI:spiffe://modelgate.local/'),
    );
    expect(inDomain).toEqual(['batch-scorer', 'frontend']);
  });

  it('makes the Envoy server certificate for localhost and the compose hostname', () => {
    const server = cert('envoy');
    expect(server.checkIssued(cert('ca'))).toBe(true);
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('envoy')).toBe('envoy');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
    expect(server.checkPrivateKey(key('envoy'))).toBe(true);
  });

  it('makes modelgate\'s server certificate and the one client certificate its Check port and receiver admit (Envoy)', () => {
    const receiver = cert('modelgate-server');
    expect(receiver.checkIssued(cert('ca'))).toBe(true);
    expect(receiver.checkHost('modelgate')).toBe('modelgate');
    expect(receiver.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth only
    expect(receiver.checkPrivateKey(key('modelgate-server'))).toBe(true);
    const client = cert('envoy-client');
    expect(client.subjectAltName).toBe('URI:spiffe://modelgate.local/ns/edge/sa/envoy');
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    // Signed by the proxy CA, which signs nothing else: modelgate's client_ca_file admits Envoy only.
    expect(client.verify(cert('proxy-ca').publicKey)).toBe(true);
    expect(client.verify(cert('ca').publicKey)).toBe(false);
    expect(cert('batch-scorer').verify(cert('proxy-ca').publicKey)).toBe(false);
    expect(client.checkPrivateKey(key('envoy-client'))).toBe(true);
  });

  it('keeps the CA and client keys private to the owner', () => {
    for (const name of ['ca', 'proxy-ca', 'batch-scorer', 'frontend', 'outsider']) {
      expect(statSync(path.join(dir, `${name}.key`)).mode & 0o077, name).toBe(0);
    }
  });

  it('writes the audit trail dev keys the compose modelgate config mounts, in the formats modelgate loads', async () => {
    const { loadSigningKey, loadPublicKey, signText, verifyText } = await import('../../../src/audit/signing.js');
    const signing = await loadSigningKey(path.join(dir, 'audit-signing.key'));
    const pub = await loadPublicKey(path.join(dir, 'audit-signing.pub'));
    if (!signing.ok || !pub.ok) throw new Error(`keys did not load: ${JSON.stringify([signing, pub])}`);
    expect(verifyText('checkpoint', signText('checkpoint', signing.key.privateKey), pub.key)).toBe(true);
    expect(readFileSync(path.join(dir, 'audit-hash.key'), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not overwrite an existing CA unless FORCE=1', () => {
    const before = cert('ca').fingerprint256;
    execFileSync('bash', [SCRIPT, dir], { stdio: 'pipe' });
    expect(cert('ca').fingerprint256).toBe(before);
    execFileSync('bash', [SCRIPT, dir], { stdio: 'pipe', env: { ...process.env, FORCE: '1' } });
    expect(cert('ca').fingerprint256).not.toBe(before);
    expect(cert('batch-scorer').checkIssued(cert('ca'))).toBe(true);
  });
});
