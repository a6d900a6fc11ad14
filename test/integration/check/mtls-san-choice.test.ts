// Issue 13, finding 5: a certificate is known by the SAN Envoy names it by (source.principal, the
// audit record): its first URI SAN, else its first DNS SAN. Only that SAN is mapped to a workload,
// so a second SAN naming a privileged workload grants nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import type { PbCheckResponse } from '../../../src/grpc/envoy-types.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const meta = (res: PbCheckResponse) => structToJson(res.dynamic_metadata);
const SCORER = 'spiffe://modelgate.local/ns/ml/sa/batch-scorer';
const NOTEBOOK = 'spiffe://modelgate.local/ns/dev/sa/notebook';

const config = (sources: string) => `
identity:
  order: [mtls]
  mtls:
    sources: ${sources}
    xfcc_sanitized_by_proxy: true
    workloads:
      - { match: '${SCORER}', subject: batch-scorer, roles: [analyst] }
      - { match: 'scorer.ml.svc', subject: scorer-dns, roles: [analyst] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
`;

describe("the client certificate's identity is Envoy's SAN choice", () => {
  let pki: TestPki;
  let byCert: TestGate;
  let byXfcc: TestGate;
  beforeAll(async () => {
    pki = createTestPki();
    byCert = await startTestGate(config('[certificate]'));
    byXfcc = await startTestGate(config('[xfcc]'));
  });
  afterAll(async () => {
    await byCert.close();
    await byXfcc.close();
    pki.cleanup();
  });

  it('maps only the first URI SAN: a second URI SAN of a workload grants nothing', async () => {
    const cert = pki.issue('two-uris', { uris: [NOTEBOOK, SCORER] });
    const res = await byCert.client.check(envoyCheckRequest({ certificatePem: cert.certPem }));
    expect(res.status.code).toBe(7);
    expect(meta(res)).toMatchObject({ reason: 'no_matching_rule', subject: `mtls:${NOTEBOOK}`, roles: '' });
  });

  it('maps the first URI SAN when it is the workload, whatever follows', async () => {
    const cert = pki.issue('scorer-first', { uris: [SCORER, NOTEBOOK], dns: ['scorer.ml.svc'] });
    const res = await byCert.client.check(envoyCheckRequest({ certificatePem: cert.certPem }));
    expect(res.status.code).toBe(0);
    expect(meta(res)).toMatchObject({ subject: 'mtls:batch-scorer', roles: 'analyst' });
  });

  it('a URI SAN outranks a DNS SAN of a workload; without URI SANs the first DNS SAN counts', async () => {
    const uriWins = pki.issue('uri-and-dns', { uris: [NOTEBOOK], dns: ['scorer.ml.svc'] });
    const denied = await byCert.client.check(envoyCheckRequest({ certificatePem: uriWins.certPem }));
    expect(meta(denied)).toMatchObject({ reason: 'no_matching_rule', subject: `mtls:${NOTEBOOK}` });
    const dnsOnly = pki.issue('dns-only', { dns: ['scorer.ml.svc', 'other.ml.svc'] });
    const allowed = await byCert.client.check(envoyCheckRequest({ certificatePem: dnsOnly.certPem }));
    expect(meta(allowed)).toMatchObject({ decision: 'allow', subject: 'mtls:scorer-dns' });
    const secondDns = pki.issue('second-dns', { dns: ['other.ml.svc', 'scorer.ml.svc'] });
    const notMapped = await byCert.client.check(envoyCheckRequest({ certificatePem: secondDns.certPem }));
    expect(meta(notMapped)).toMatchObject({ reason: 'no_matching_rule', subject: 'mtls:other.ml.svc' });
  });

  it('a certificate with neither URI nor DNS SAN is certificate_invalid', async () => {
    const ipOnly = pki.issue('ip-only', { ips: ['10.0.0.9'] });
    const res = await byCert.client.check(envoyCheckRequest({ certificatePem: ipOnly.certPem }));
    expect(res.status.code).toBe(16);
    expect(meta(res).reason).toBe('certificate_invalid');
  });

  it('reads XFCC the same way: the first URI= only', async () => {
    const xfcc = (uris: string[]) => `By=spiffe://modelgate.local/ns/edge/sa/envoy;Hash=ab;${uris.map((u) => `URI=${u}`).join(';')};DNS=scorer.ml.svc`;
    const second = await byXfcc.client.check(envoyCheckRequest({ headers: { 'x-forwarded-client-cert': xfcc([NOTEBOOK, SCORER]) } }));
    expect(meta(second)).toMatchObject({ reason: 'no_matching_rule', subject: `mtls:${NOTEBOOK}` });
    const first = await byXfcc.client.check(envoyCheckRequest({ headers: { 'x-forwarded-client-cert': xfcc([SCORER, NOTEBOOK]) } }));
    expect(meta(first)).toMatchObject({ decision: 'allow', subject: 'mtls:batch-scorer' });
  });
});
