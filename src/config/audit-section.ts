// The `audit:` section of a modelgate config for the `modelgate audit …` commands, which may run
// where no policy is deployed. Judged like `serve` judges it: the same schema, file:line errors,
// and the credential cross-check against whatever identity settings the file holds.

import { readFileSync } from 'node:fs';
import { auditSchema, type AuditConfig } from '../audit/config.js';
import { keptCredentialProblems } from './credential-headers.js';
import { applyEnvOverrides } from './env.js';
import { issueProblems, parseLocatedYaml } from './load.js';
import { ConfigError } from './problems.js';
import { configSchema } from './schema.js';

export type AuditSectionResult = { ok: true; config: AuditConfig } | { ok: false; problems: readonly string[] };

// Only what decides which headers carry credentials; the policy may live elsewhere.
const credentialSections = configSchema.pick({ server: true, log: true, identity: true });

export function loadAuditSection(file: string, env: NodeJS.ProcessEnv = process.env): AuditSectionResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, problems: [`${file}: cannot read file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`] };
  }
  let located;
  try {
    located = parseLocatedYaml(text, file);
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, problems: error.lines };
    throw error;
  }
  const { value } = applyEnvOverrides(located.raw, env);
  const doc = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const audit = auditSchema.safeParse(doc.audit ?? {});
  if (!audit.success) {
    return { ok: false, problems: audit.error.issues.flatMap((issue) => issueProblems(issue, ['audit'])).map(located.describe) };
  }
  // Sections that do not parse are `serve`'s to report; the defaults still name the usual headers.
  const sections = credentialSections.safeParse({ server: doc.server, log: doc.log, identity: doc.identity });
  const base = sections.success ? sections.data : credentialSections.parse({});
  const problems = keptCredentialProblems({ ...base, audit: audit.data });
  if (problems.length > 0) return { ok: false, problems: problems.map(located.describe) };
  return { ok: true, config: audit.data };
}
