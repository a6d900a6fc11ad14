// `modelgate validate` reports every problem of a file in one run (issue 17): a schema error no
// longer hides an unknown role or a CEL typo in the rules that parse.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../../helpers/serve-process.js';

const run = promisify(execFile);

describe('validate reports every problem at once', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'modelgate-validate-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const validate = async (yaml: string) => {
    const file = join(dir, 'modelgate.yaml');
    writeFileSync(file, yaml);
    const failed = await run(process.execPath, [...CLI, 'validate', file]).catch((error: { code: number; stderr: string }) => error);
    return { file, code: (failed as { code?: number }).code, lines: (failed as { stderr: string }).stderr.trim().split('\n') };
  };

  it('a schema error, an unknown role and a CEL typo, each at its own line', async () => {
    const { file, code, lines } = await validate(
      [
        'server:',
        '  shutdown_grace_seconds: soon',
        'policy:',
        '  roles: { analyst: null }',
        '  rules:',
        '    - { id: a, effect: allow, roles: [analyts] }',
        '    - { id: b, effect: permit }',
        "    - { id: c, effect: allow, roles: [analyst], when: 'subject.atributes.org == \"x\"' }",
        '',
      ].join('\n'),
    );
    expect(code).toBe(1);
    expect(lines).toHaveLength(4);
    expect(lines.slice(0, 3)).toEqual([
      `${file}:2: server.shutdown_grace_seconds: expected a number, got text`,
      `${file}:7: policy.rules[1].effect: must be one of: allow, deny, require_approval`,
      `${file}:6: policy.rules[0].roles[0]: unknown role 'analyts' (not declared in policy.roles)`,
    ]);
    expect(lines[3]).toMatch(new RegExp(`^${file}:8: policy\\.rules\\[2\\]\\.when: subject has no field 'atributes' \\(fields: id, roles, `));
  });

  it('judges the OTEL_* environment serve would start with', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'policy:\n  roles: {}\n');
    const failed = await run(process.execPath, [...CLI, 'validate', file], { env: { ...process.env, OTEL_TRACES_EXPORTER: 'zipkin' } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((failed as { code?: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toContain("environment: OTEL_TRACES_EXPORTER: 'zipkin' is not supported");
  });
});
