// Client-certificate identity: SANs from the peer certificate, Envoy's source.principal, or a
// sanitized x-forwarded-client-cert, mapped to roles by exact SPIFFE id or pattern.

import { X509Certificate } from 'node:crypto';
import picomatch from 'picomatch';
import type { MtlsConfig } from '../config/schema.js';
import type { CheckInput } from '../pipeline/check-input.js';
import type { Identity } from './identity.js';
import { identityDenied, type IdentityResult, type IdentitySource } from './result.js';

interface WorkloadMatcher {
  readonly test: (san: string) => boolean;
  readonly subject?: string;
  readonly roles: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
}

type SanResult = { sans: string[] } | { invalid: string } | undefined;

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
  // A resolved certificate identity depends only on the PEM text; Envoy sends the same one on every
  // request of a connection, so parsing once per distinct certificate is safe and bounded.
  const certCache = new Map<string, SanResult>();

  const sansOf = (input: CheckInput): SanResult => {
    for (const source of sources) {
      if (source === 'certificate' && input.source.certificate) {
        let cached = certCache.get(input.source.certificate);
        if (!cached) {
          cached = sansFromCertificate(input.source.certificate);
          if (certCache.size >= 1024) certCache.clear();
          certCache.set(input.source.certificate, cached);
        }
        return cached;
      }
      if (source === 'principal' && input.source.principal) return { sans: [input.source.principal] };
      if (source === 'xfcc' && input.headers[XFCC]) return sansFromXfcc(input.headers[XFCC]);
    }
    return undefined;
  };

  const identityFor = (sans: readonly string[]): Identity => {
    for (const san of sans) {
      const w = exact.get(san) ?? workloads.find((m) => m.test(san));
      if (w) return { subject: w.subject ?? san, method: 'mtls', roles: w.roles, attributes: w.attributes, issuer: san };
    }
    // An authenticated peer with no mapping: known to Envoy's CA, unknown to policy → 403 later.
    return { subject: sans[0]!, method: 'mtls', roles: [], attributes: {}, issuer: sans[0] };
  };

  return {
    name: 'mtls',
    credentialHeaders: [],
    present: (input) =>
      sources.some(
        (s) =>
          (s === 'certificate' && input.source.certificate !== '') ||
          (s === 'principal' && input.source.principal !== '') ||
          (s === 'xfcc' && input.headers[XFCC] !== undefined),
      ),
    resolve(input): IdentityResult {
      const found = sansOf(input);
      if (!found) return identityDenied('no_credential');
      if ('invalid' in found) return identityDenied('certificate_invalid', found.invalid);
      if (found.sans.length === 0) return identityDenied('certificate_invalid', 'certificate has no usable SAN');
      return { ok: true, identity: identityFor(found.sans) };
    },
  };
}

/** URI SANs first (SPIFFE ids), then DNS SANs, as Envoy orders source.principal. */
function sansFromCertificate(urlEncodedPem: string): SanResult {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(decodeURIComponent(urlEncodedPem));
  } catch (error) {
    return { invalid: `peer certificate unreadable: ${(error as Error).message}` };
  }
  const uris: string[] = [];
  const dns: string[] = [];
  for (const entry of splitSubjectAltName(cert.subjectAltName ?? '')) {
    if (entry.startsWith('URI:')) uris.push(entry.slice(4));
    else if (entry.startsWith('DNS:')) dns.push(entry.slice(4));
  }
  return { sans: [...uris, ...dns] };
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
 */
function sansFromXfcc(header: string): SanResult {
  const elements = splitOutsideQuotes(header, ',');
  const last = elements[elements.length - 1];
  if (!last) return { invalid: 'empty x-forwarded-client-cert' };
  const uris: string[] = [];
  const dns: string[] = [];
  for (const pair of splitOutsideQuotes(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\"/g, '"');
    if (key === 'uri' && value) uris.push(value);
    else if (key === 'dns' && value) dns.push(value);
  }
  return { sans: [...uris, ...dns] };
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
