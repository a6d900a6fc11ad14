// The `*.test.yaml` format for policy tests: a config under test, a fixed clock, and cases of
// "this request → this answer". Strict like the config: a misspelled key is an error.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { formatKeyPath } from '../config/problems.js';

const strings = z.record(z.string(), z.string());

const identitySchema = z.strictObject({
  subject: z.string().min(1),
  method: z.enum(['jwt', 'envoy_jwt', 'mtls', 'api_key']).default('jwt'),
  roles: z.array(z.string()).default([]),
  /** CEL `subject.scopes`. */
  scopes: z.array(z.string()).default([]),
  attributes: strings.default({}),
});

export const requestSchema = z
  .strictObject({
    /** Claims of a token minted for the test with a throwaway key that replaces the issuers' keys. */
    jwt_claims: z.record(z.string(), z.unknown()).optional(),
    /** Which configured issuer (by `name`) signs `jwt_claims`; default: the one whose `issuer` is `iss`, else the first. */
    issuer: z.string().min(1).optional(),
    /** Client certificate SAN as Envoy sends it in `source.principal`. */
    principal: z.string().min(1).optional(),
    /** An API key id from the config, its keys_file, or this file's `api_keys`; unknown ids send an invalid key. */
    api_key_id: z.string().min(1).optional(),
    /** An identity taken as resolved, skipping credentials altogether. */
    identity: identitySchema.optional(),
    method: z.string().regex(/^[A-Z]+$/).default('POST'),
    path: z.string().startsWith('/').default('/'),
    host: z.string().min(1).optional(),
    headers: strings.default({}),
    context_extensions: strings.default({}),
    /** A string is sent as is; anything else as JSON. */
    body: z.unknown().optional(),
    partial_body: z.boolean().default(false),
  })
  .refine((r) => [r.jwt_claims, r.principal, r.api_key_id, r.identity].filter((x) => x !== undefined).length <= 1, {
    message: 'at most one of jwt_claims, principal, api_key_id, identity',
  });

const expectSchema = z.strictObject({
  decision: z.enum(['allow', 'deny']).optional(),
  reason: z.string().min(1).optional(),
  /** The rule that decided; `null` asserts that none did. */
  rule: z.string().min(1).nullable().optional(),
  /** The HTTP status the client gets (200 on allow). */
  status: z.number().int().optional(),
  /** Headers set upstream (allow) or sent to the client (allow and deny); `null` asserts absence. */
  headers: z.record(z.string(), z.string().nullable()).optional(),
  headers_removed: z.array(z.string()).optional(),
  shadow_rules: z.array(z.string()).optional(),
  model: z.string().optional(),
  action: z.string().optional(),
  subject: z.string().optional(),
});

const caseSchema = z.strictObject({
  name: z.string().min(1),
  request: requestSchema.prefault({}),
  /** Send the request this many times (limits); the expectation applies to the last answer. */
  repeat: z.number().int().min(1).max(10_000).default(1),
  /** Move the fixed clock for this case (and the ones after it). */
  now: z.iso.datetime({ offset: true }).optional(),
  expect: expectSchema,
});

export const testApiKeySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  subject: z.string().min(1),
  roles: z.array(z.string()).default([]),
  attributes: strings.default({}),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  disabled: z.boolean().default(false),
});

const testFileSchema = z.strictObject({
  /** The config under test, relative to this file. */
  config: z.string().min(1),
  /** The fixed clock for every check (token lifetimes, key expiry, limits). */
  now: z.iso.datetime({ offset: true }),
  /** Test-only API keys (no hash needed), for keys the config keeps outside itself. */
  api_keys: z.array(testApiKeySchema).default([]),
  cases: z.array(caseSchema).min(1),
});

export type TestFile = z.infer<typeof testFileSchema>;
export type TestCase = TestFile['cases'][number];
export type CaseRequest = z.infer<typeof requestSchema>;
export type CaseExpect = TestCase['expect'];
export type TestApiKey = z.infer<typeof testApiKeySchema>;

export type ParsedTestFile =
  | { readonly ok: true; readonly file: string; readonly configFile: string; readonly test: TestFile }
  | { readonly ok: false; readonly file: string; readonly problems: readonly string[] };

export function readTestFile(file: string): ParsedTestFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, file, problems: [`${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`] };
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) return { ok: false, file, problems: doc.errors.map((e) => `${file}: YAML: ${e.message.split('\n')[0]}`) };
  const parsed = testFileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      file,
      problems: parsed.error.issues.flatMap((issue) => {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${file}: ${formatKeyPath([...path, k])}: unknown field '${k}'`);
        return [`${file}: ${formatKeyPath(path)}: ${issue.message}`];
      }),
    };
  }
  return { ok: true, file, configFile: resolve(dirname(file), parsed.data.config), test: parsed.data };
}
