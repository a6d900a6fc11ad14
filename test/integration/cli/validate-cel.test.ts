// Issue 13, finding 14: a CEL typo used to pass `validate` and then make every request a
// condition_error. Now `validate` and `serve` both refuse it at load, naming file, line and rule.

import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/problems.js';
import { startModelgate } from '../../../src/main.js';
import { REPO, runCli } from '../../helpers/run-cli.js';

const FIXTURE = join('test', 'fixtures', 'config', 'cel-unknown-field.yaml');
const MESSAGE = "policy.rules[0].when: subject has no field 'atributes' (fields: id, roles, scopes, attributes, method, source, raw_id)";

describe('CEL is type-checked at load', () => {
  it('modelgate validate exits 1 naming the field', async () => {
    const r = await runCli(['validate', FIXTURE]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${FIXTURE}:7: ${MESSAGE}\n`);
  });

  it('serve refuses to start on it', async () => {
    const started = startModelgate({
      configFile: join(REPO, FIXTURE),
      grpcAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      watch: false,
      logger: pino({ level: 'silent' }),
    });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(MESSAGE);
  });
});
