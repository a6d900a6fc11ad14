// Qualified subjects: a caller's id prefixed with the source that vouched for it, so a JWT `sub`,
// an API key's subject and a certificate SAN that happen to be the same string never share a rule,
// a rate-limit bucket, an upstream header or a log line (issue 13, finding 6).
//
//   api_key:<key subject>   jwt:<issuer name>:<sub claim>   mtls:<workload subject or SAN>
//
// Issuer names hold no `:`, so the source of a qualified subject is always unambiguous.

import type { Config } from '../config/schema.js';
import type { ConfigProblem } from '../config/problems.js';

export const apiKeySubject = (subject: string): string => `api_key:${subject}`;
export const jwtSubject = (issuerName: string, sub: string): string => `jwt:${issuerName}:${sub}`;
export const mtlsSubject = (subject: string): string => `mtls:${subject}`;

/** `source` is `api_key`, `mtls` or `jwt:<issuer name>`; `id` what that source called the caller. */
export interface SplitSubject {
  readonly source: string;
  readonly id: string;
}

/** Splits a qualified subject; an unqualified one (a hand-written test identity) has source ''. */
export function splitSubject(subject: string): SplitSubject {
  const first = subject.indexOf(':');
  const head = first < 0 ? '' : subject.slice(0, first);
  if (head === 'api_key' || head === 'mtls') return { source: head, id: subject.slice(first + 1) };
  if (head === 'jwt') {
    const second = subject.indexOf(':', first + 1);
    if (second > first + 1) return { source: subject.slice(0, second), id: subject.slice(second + 1) };
  }
  return { source: '', id: subject };
}

/**
 * Why a subject written in config is not qualified for this config, or undefined when it is. A
 * bare `svc:reporting-bot` would otherwise match a JWT, an API key and a SAN alike.
 */
export function subjectEntryProblem(entry: string, issuerNames: ReadonlySet<string>): string | undefined {
  const { source, id } = splitSubject(entry);
  const issuers = issuerNames.size > 0 ? [...issuerNames].join(', ') : 'none configured';
  if (source === '') {
    const example = [...issuerNames][0] ?? '<issuer name>';
    return (
      `subject '${entry}' does not name its source: write api_key:${entry} (an API key's subject), ` +
      `jwt:${example}:${entry} (a JWT's sub from that issuer) or mtls:${entry} (a workload subject or SAN)`
    );
  }
  if (source.startsWith('jwt:') && !issuerNames.has(source.slice(4))) {
    return `subject '${entry}' names JWT issuer '${source.slice(4)}', which is not configured (identity.jwt.issuers[].name: ${issuers})`;
  }
  if (id === '') return `subject '${entry}' has an empty id after '${source}:'`;
  return undefined;
}

/**
 * Every subject a rule or a limit bucket names must be qualified (see subjectEntryProblem), and JWT
 * issuer names must not contain `:`. A bucket may still say `*` or `**`: every subject of every source.
 */
export function subjectReferenceProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const issuers = config.identity.jwt?.issuers ?? [];
  const names = new Map<string, number>();
  issuers.forEach((issuer, i) => {
    const path = ['identity', 'jwt', 'issuers', i, 'name'];
    // Two issuers under one name, or a name with `:`, would give two callers one subject.
    const previous = names.get(issuer.name);
    if (previous !== undefined) {
      problems.push({ path, message: `duplicate issuer name '${issuer.name}' (also issuers[${previous}]); subjects are jwt:<issuer name>:<sub>` });
    }
    if (issuer.name.includes(':')) {
      problems.push({ path, message: `issuer name '${issuer.name}' contains ':' (subjects are written jwt:<issuer name>:<sub>, so names cannot)` });
    }
    names.set(issuer.name, previous ?? i);
  });
  const known = new Set(names.keys());
  const check = (entries: readonly string[] | undefined, path: Array<string | number>, anyAllowed: boolean) =>
    entries?.forEach((entry, i) => {
      if (anyAllowed && (entry === '*' || entry === '**')) return;
      const problem = subjectEntryProblem(entry, known);
      if (problem) problems.push({ path: [...path, i], message: problem });
    });
  config.policy.rules.forEach((rule, i) => check(rule.subjects, ['policy', 'rules', i, 'subjects'], false));
  config.limits?.buckets.forEach((bucket, i) => check(bucket.match.subjects, ['limits', 'buckets', i, 'match', 'subjects'], true));
  return problems;
}
