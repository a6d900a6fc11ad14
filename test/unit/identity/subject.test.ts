// Qualified subjects: how they are built, split and checked in config.

import { describe, expect, it } from 'vitest';
import { apiKeySubject, jwtSubject, mtlsSubject, splitSubject, subjectEntryProblem } from '../../../src/identity/subject.js';

describe('qualified subjects', () => {
  it('prefix the id with its source, and split back into the two', () => {
    expect(apiKeySubject('svc:reporting-bot')).toBe('api_key:svc:reporting-bot');
    expect(jwtSubject('partner', 'svc:reporting-bot')).toBe('jwt:partner:svc:reporting-bot');
    expect(mtlsSubject('spiffe://t/ns/a')).toBe('mtls:spiffe://t/ns/a');
    expect(splitSubject('api_key:svc:reporting-bot')).toEqual({ source: 'api_key', id: 'svc:reporting-bot' });
    expect(splitSubject('jwt:partner:svc:reporting-bot')).toEqual({ source: 'jwt:partner', id: 'svc:reporting-bot' });
    expect(splitSubject('mtls:spiffe://t/ns/a')).toEqual({ source: 'mtls', id: 'spiffe://t/ns/a' });
    expect(splitSubject('svc:reporting-bot')).toEqual({ source: '', id: 'svc:reporting-bot' });
    expect(splitSubject('jwt:')).toEqual({ source: '', id: 'jwt:' });
  });

  it('the same string from three sources gives three distinct subjects', () => {
    const all = [apiKeySubject('x'), jwtSubject('corp', 'x'), jwtSubject('partner', 'x'), mtlsSubject('x')];
    expect(new Set(all).size).toBe(4);
  });

  const issuers = new Set(['corp', 'partner']);
  it.each([
    ['api_key:svc:bot', undefined],
    ['jwt:corp:alice', undefined],
    ['mtls:spiffe://t/ns/a', undefined],
    ['svc:bot', "subject 'svc:bot' does not name its source: write api_key:svc:bot (an API key's subject), jwt:corp:svc:bot (a JWT's sub from that issuer) or mtls:svc:bot (a workload subject or SAN)"],
    ['alice', "subject 'alice' does not name its source: write api_key:alice (an API key's subject), jwt:corp:alice (a JWT's sub from that issuer) or mtls:alice (a workload subject or SAN)"],
    ['jwt:other:alice', "subject 'jwt:other:alice' names JWT issuer 'other', which is not configured (identity.jwt.issuers[].name: corp, partner)"],
    ['jwt:https://corp.example:alice', "subject 'jwt:https://corp.example:alice' names JWT issuer 'https', which is not configured (identity.jwt.issuers[].name: corp, partner)"],
    ['api_key:', "subject 'api_key:' has an empty id after 'api_key:'"],
    ['jwt:corp:', "subject 'jwt:corp:' has an empty id after 'jwt:corp:'"],
  ])('config entry %s', (entry, problem) => {
    expect(subjectEntryProblem(entry, issuers)).toBe(problem);
  });
});
