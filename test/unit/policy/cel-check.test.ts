// The load-time CEL checker: what fits the declared variables passes, what can never work is named.

import { celEnv, parse } from '@bufbuild/cel';
import { describe, expect, it } from 'vitest';
import { checkCel } from '../../../src/policy/cel-check.js';

const env = celEnv();
const problemsOf = (source: string) => checkCel(parse(source), env.funcs).problems;

describe('checkCel', () => {
  it.each([
    '!("org" in subject.attributes) || subject.attributes.org != "ml-platform"',
    'has(body.max_tokens) && body.max_tokens > 4096',
    '!has(body.max_tokens) || type(body.max_tokens) != double || int(body.max_tokens) != body.max_tokens',
    'subject.roles.exists(r, r.startsWith("ml-"))',
    'subject.attributes.exists(k, k == "org")',
    'body.messages.all(m, m.role != "system")',
    '"admin" in subject.roles && "models:write" in subject.scopes',
    'request.headers["x-env"] == "prod" && subject["id"] == "alice"',
    'size(subject.roles) > 0 && context.tier == "gold" && model.startsWith("chat-")',
    'request.method in ["GET", "HEAD"] ? action == "read" : true',
    'has(subject.attributes.org) && subject.method == "jwt"',
  ])('accepts %s', (source) => {
    expect(problemsOf(source)).toEqual([]);
  });

  it.each([
    ['subject.atributes.org == "ml"', "subject has no field 'atributes' (fields: id, roles, scopes, attributes, method, source, raw_id)"],
    ['has(subject.atributes.org)', "subject has no field 'atributes' (fields: id, roles, scopes, attributes, method, source, raw_id)"],
    ['subject["atributes"] == {}', "subject has no field 'atributes' (fields: id, roles, scopes, attributes, method, source, raw_id)"],
    ['request.header["x-env"] == "prod"', "request has no field 'header' (fields: method, path, host, headers)"],
    ['model.name == "chat"', "model is a string: it has no field 'name'"],
    ['subject.id.startWith("svc:")', "unknown function 'startWith'"],
    ['subject.roles.startsWith("a")', 'startsWith() needs a string, subject.roles is a list(string)'],
    ['subject.roles == "admin"', `subject.roles (list(string)) is never equal to "admin" (string) (to test membership, use 'in')`],
    ['"admin" in subject.id', "'in' needs a list or map on its right, subject.id is a string"],
    ['subject.roles["x"] == "a"', 'subject.roles is a list: its index must be an int'],
    ['request.headers["content-length"] > 1000', 'request.headers["content-length"] (string) cannot be ordered against 1000 (int)'],
    ['subject.id', 'a condition must be a bool, this one is a string'],
    ['subjet.id == "a"', "unknown variable 'subjet' (use subject, request, model, action, context, body)"],
    ['roles.exists(r, r == "a")', "unknown variable 'roles' (use subject, request, model, action, context, body)"],
  ])('refuses %s', (source, message) => {
    expect(problemsOf(source)).toEqual([message]);
  });

  it('reports which variables are read (a rule that reads body needs the body)', () => {
    expect([...checkCel(parse('subject.roles.exists(body, body == "a")'), env.funcs).variables]).toEqual(['subject']);
    expect([...checkCel(parse('has(body.x) && model == "m"'), env.funcs).variables].sort()).toEqual(['body', 'model']);
  });
});
