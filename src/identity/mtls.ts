// Client-certificate identity: one SAN from the peer certificate, Envoy's source.principal, or a
// sanitized x-forwarded-client-cert, mapped to roles by exact SPIFFE id or pattern.
//
// The SAN is the one Envoy names the peer by (source.principal, %DOWNSTREAM_PEER_URI_SAN%, the audit
// record): the first URI SAN, else the first DNS SAN. Only that SAN is mapped, so a certificate
// carrying a second SAN of some workload never gets that workload's roles (issue 13, finding 5).

import { X509Certificate } from 'node:crypto';
import picomatch from 'picomatch';
import type { MtlsConfig } from '../config/schema.js';
import type { CheckInput } from '../check/check-input.js';
import type { Identity } from './identity.js';
import { identityDenied, type IdentityResult, type IdentitySource } from './result.js';
import { mtlsSubject } from './subject.js';

interface WorkloadMatcher {
  readonly test: (san: string) => boolean;
  readonly subject?: string;
  readonly roles: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
}

/** The peer's SAN as Envoy picks it, or why there is none. */
type SanResult = { san: string } | { invalid: string } | undefined;

/** Bound on each cache below; distinct certificates and SANs of one deployment are far fewer. */
const CACHE_MAX = 1024;

const XFCC = 'x-forwarded-client-cert';

export function mtlsSource(config: MtlsConfig): IdentitySource {
  const workloads: WorkloadMatcher[] = config.workloads.map((w) => ({
    test: w.match !== undefined ? (san: string) => san === w.match : picomatch(w.pattern!, { dot: true }),
    subject: w.subject,
    roles: w.roles,
    attributes: w.attributes,
  }));
  const exact = new Map<string, WorkloadMatcher>();
  for (const w of config.workloads) if (w.match) exact.set(w.match, workloads[config.workloads.indexOf(w)]!);
  const sources = config.sources;
  /** The first configured place that carries a certificate in this request. */
  const carriedBy = (input: CheckInput) =>
    sources.find(
      (s) =>
        (s === 'certificate' && input.source.certificate !== '') ||
        (s === 'principal' && input.source.principal !== '') ||
        (s === 'xfcc' && input.headers[XFCC] !== undefined),
    );
  // A resolved certificate identity depends only on the PEM text; Envoy sends the same one on every
  // request of a connection, so parsing once per distinct certificate is safe and bounded.
  const certCache = new Map<string, SanResult>();

  const sanOf = (input: CheckInput): SanResult => {
    for (const source of sources) {
      if (source === 'certificate' && input.source.certificate) {
        let cached = certCache.get(input.source.certificate);
        if (!cached) {
          cached = sanFromCertificate(input.source.certificate);
          if (certCache.size >= CACHE_MAX) certCache.clear();
          certCache.set(input.source.certificate, cached);
        }
        return cached;
      }
      // Envoy already chose: first URI SAN, else first DNS SAN, else the certificate's subject.
      if (source === 'principal' && input.source.principal) return { san: input.source.principal };
      if (source === 'xfcc' && input.headers[XFCC]) return sanFromXfcc(input.headers[XFCC]);
    }
    return undefined;
  };

  // Identities by SAN: a pure function of the SAN and the config, so a hit returns the same object
  // (no qualified-subject string built per request); bounded, emptied when full.
  const identities = new Map<string, Identity>();
  const identityFor = (san: string): Identity => {
    let identity = identities.get(san);
    if (identity === undefined) {
      const w = exact.get(san) ?? workloads.find((m) => m.test(san));
      // An authenticated peer with no mapping: known to Envoy's CA, unknown to policy → 403 later.
      identity = w
        ? { subject: mtlsSubject(w.subject ?? san), method: 'mtls', roles: w.roles, attributes: w.attributes, issuer: san }
        : { subject: mtlsSubject(san), method: 'mtls', roles: [], attributes: {}, issuer: san };
      if (identities.size >= CACHE_MAX) identities.clear();
      identities.set(san, identity);
    }
    return identity;
  };

  return {
    name: 'mtls',
    credentialHeaders: [],
    present: (input) => carriedBy(input) !== undefined,
    carrier: (input) => `client certificate (${carriedBy(input) ?? sources.join(', ')})`,
    resolve(input): IdentityResult {
      const found = sanOf(input);
      if (!found) return identityDenied('no_credential');
      if ('invalid' in found) return identityDenied('certificate_invalid', found.invalid);
      return { ok: true, identity: identityFor(found.san) };
    },
  };
}

/** First URI SAN (SPIFFE id), else first DNS SAN: Envoy's source.principal for this certificate. */
function sanFromCertificate(urlEncodedPem: string): SanResult {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(decodeURIComponent(urlEncodedPem));
  } catch (error) {
    return { invalid: `peer certificate unreadable: ${(error as Error).message}` };
  }
  let dns: string | undefined;
  for (const entry of splitSubjectAltName(cert.subjectAltName ?? '')) {
    if (entry.startsWith('URI:')) return { san: entry.slice(4) };
    if (dns === undefined && entry.startsWith('DNS:')) dns = entry.slice(4);
  }
  return dns !== undefined ? { san: dns } : { invalid: 'certificate has no URI or DNS SAN' };
}

/** Node quotes SAN entries that contain commas (JSON string syntax); split outside quotes only. */
function splitSubjectAltName(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ') i++;
    let entry = '';
    const colon = text.indexOf(':', i);
    if (colon >= 0 && text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      entry = text.slice(i, colon + 1) + (JSON.parse(text.slice(colon + 1, j + 1)) as string);
      i = j + 1;
    } else {
      const comma = text.indexOf(',', i);
      entry = text.slice(i, comma < 0 ? text.length : comma);
      i = comma < 0 ? text.length : comma;
    }
    if (entry) out.push(entry);
    if (text[i] === ',') i++;
  }
  return out;
}

/**
 * XFCC: `By=…;Hash=…;URI=spiffe://…;DNS=…;Subject="…"`, elements separated by commas outside quotes.
 * With SANITIZE_SET Envoy writes exactly one element for the current client; take the last one.
 * Envoy writes one `URI=` per URI SAN in certificate order, so the first `URI=` (else `DNS=`) is
 * the SAN source.principal would name.
 */
function sanFromXfcc(header: string): SanResult {
  const elements = splitOutsideQuotes(header, ',');
  const last = elements[elements.length - 1];
  if (!last) return { invalid: 'empty x-forwarded-client-cert' };
  let dns: string | undefined;
  for (const pair of splitOutsideQuotes(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\"/g, '"');
    if (key === 'uri' && value) return { san: value };
    if (key === 'dns' && value && dns === undefined) dns = value;
  }
  return dns !== undefined ? { san: dns } : { invalid: 'x-forwarded-client-cert names no URI or DNS SAN' };
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}
