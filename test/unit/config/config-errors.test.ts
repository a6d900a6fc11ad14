// One fixture per config failure, each with the exact message a user sees (file, line, key path).

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadStages } from '../../../src/app/load-stages.js';
import { loadConfig } from '../../../src/config/load.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';

const fixture = (name: string) => join('test', 'fixtures', 'config', name);

/** What serve, validate and the policy tests all report for the file: the one loader's problems. */
function problemsOf(name: string): readonly string[] {
  const loaded = loadStages(fixture(name), { env: {}, now: Date.now, limiter: unlimited });
  return loaded.ok ? [] : loaded.error.lines;
}

describe('config errors name the file, line and key path', () => {
  it.each([
    ['unknown-key.yaml', [`${fixture('unknown-key.yaml')}:7: policy.rules[0].subjet: unknown field 'subjet'`]],
    ['bad-glob.yaml', [`${fixture('bad-glob.yaml')}:7: policy.rules[0].models[0]: invalid glob 'churn-[v1': Missing closing: "]" - use "\\\\]" to match literal characters`]],
    ['bad-expression.yaml', [`${fixture('bad-expression.yaml')}:7: policy.rules[0].when: invalid CEL expression: <input>:1:24: found = but expecting end of input`]],
    ['unknown-variable.yaml', [`${fixture('unknown-variable.yaml')}:7: policy.rules[0].when: unknown variable 'subjet' (use subject, request, model, action, context, body)`]],
    // Issue 13, finding 14: CEL is type-checked against the declared variables at load.
    ['cel-unknown-field.yaml', [`${fixture('cel-unknown-field.yaml')}:7: policy.rules[0].when: subject has no field 'atributes' (fields: id, roles, scopes, attributes, method, source, raw_id)`]],
    ['cel-never-equal.yaml', [`${fixture('cel-never-equal.yaml')}:6: policy.rules[0].when: subject.roles (list(string)) is never equal to "admin" (string) (to test membership, use 'in')`]],
    ['unknown-role.yaml', [`${fixture('unknown-role.yaml')}:6: policy.rules[0].roles[0]: unknown role 'analyts' (not declared in policy.roles)`]],
    ['hs256-algorithm.yaml', [`${fixture('hs256-algorithm.yaml')}:8: identity.jwt.issuers[0].algorithms[0]: must be one of: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA`]],
    // Issue 13, finding 13: no credential header of this deployment is kept in the audit trail, hashed or plain.
    ['audit-keeps-api-key-header.yaml', [`${fixture('audit-keeps-api-key-header.yaml')}:9: audit.privacy.keep[1].name: 'X-Model-Key' carries a credential (identity.api_keys.header); credentials are never stored in the audit trail, hashed or plain`]],
    ['audit-keeps-jwt-header.yaml', [`${fixture('audit-keeps-jwt-header.yaml')}:9: audit.privacy.keep[0].name: 'x-identity' carries a credential (identity.jwt.header); credentials are never stored in the audit trail, hashed or plain`]],
    ['audit-keeps-redacted-header.yaml', [`${fixture('audit-keeps-redacted-header.yaml')}:7: audit.privacy.keep[0].name: 'x-tenant-pin' carries a credential (log.redact_headers marks it sensitive); credentials are never stored in the audit trail, hashed or plain`]],
    ['audit-keeps-jwt-assertion.yaml', [`${fixture('audit-keeps-jwt-assertion.yaml')}:5: audit.privacy.keep[0].name: looks like a credential; credentials are never stored in the audit trail`]],
    // Issue 13, finding 7: a client certificate cannot be required with nothing to verify it against.
    ['tls-client-cert-without-ca.yaml', [`${fixture('tls-client-cert-without-ca.yaml')}:5: server.grpc.tls.client_ca_file: required when require_client_cert is true (the CA that signs Envoy's client certificate)`]],
    // Issue 13, finding 6: subjects name their source, so a JWT sub, an API key and a SAN never share a rule or bucket.
    ['unqualified-subject.yaml', [`${fixture('unqualified-subject.yaml')}:6: policy.rules[0].subjects[0]: subject 'svc:reporting-bot' does not name its source: write api_key:svc:reporting-bot (an API key's subject), jwt:<issuer name>:svc:reporting-bot (a JWT's sub from that issuer) or mtls:svc:reporting-bot (a workload subject or SAN)`]],
    ['unknown-subject-issuer.yaml', [
      `${fixture('unknown-subject-issuer.yaml')}:8: policy.rules[0].subjects[0]: subject 'jwt:https://corp.example:alice' names JWT issuer 'https', which is not configured (identity.jwt.issuers[].name: corp)`,
      `${fixture('unknown-subject-issuer.yaml')}:11: limits.buckets[0].match.subjects[2]: subject 'svc:reporting-bot' does not name its source: write api_key:svc:reporting-bot (an API key's subject), jwt:corp:svc:reporting-bot (a JWT's sub from that issuer) or mtls:svc:reporting-bot (a workload subject or SAN)`,
    ]],
    ['issuer-name-colon.yaml', [
      `${fixture('issuer-name-colon.yaml')}:5: identity.jwt.issuers[1].name: issuer name 'corp:eu' contains ':' (subjects are written jwt:<issuer name>:<sub>, so names cannot)`,
      `${fixture('issuer-name-colon.yaml')}:6: identity.jwt.issuers[2].name: duplicate issuer name 'corp' (also issuers[0]); subjects are jwt:<issuer name>:<sub>`,
    ]],
    ['broken-yaml.yaml', [`${fixture('broken-yaml.yaml')}:3: YAML: Flow map in block collection must be sufficiently indented and end with a }`]],
  ])('%s', (name, expected) => {
    expect(problemsOf(name)).toEqual(expected);
  });

  it('lists every problem, not just the first', () => {
    expect(problemsOf('many-problems.yaml')).toEqual([
      `${fixture('many-problems.yaml')}:3: server.grpc.address: expected host:port`,
      `${fixture('many-problems.yaml')}:8: policy.rules[0].effect: must be one of: allow, deny, require_approval`,
      // The schema failed, yet the rules that parse are still checked (issue 17).
      `${fixture('many-problems.yaml')}:11: policy.rules[1].roles[0]: unknown role 'ghost' (not declared in policy.roles)`,
    ]);
  });

  it('reports semantic problems once the schema passes', () => {
    const loaded = loadConfig(fixture('unknown-role.yaml'), {});
    expect(Object.isFrozen(loaded.config.policy.rules[0])).toBe(true);
  });

  it('names a missing file', () => {
    expect(() => loadConfig(fixture('nope.yaml'), {})).toThrow(/nope\.yaml: invalid configuration\n {2}\S*nope\.yaml: cannot read file: ENOENT/);
    expect(problemsOf('nope.yaml')).toEqual([`${fixture('nope.yaml')}: cannot read file: ENOENT`]);
  });
});
