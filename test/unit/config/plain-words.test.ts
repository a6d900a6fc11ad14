// Config errors in plain words (issue 17): "required", "expected a number, got text", and a value
// that came from an environment variable named as that variable, not as a line of the file.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/problems.js';

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(yaml, 'm.yaml', env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.lines;
    throw error;
  }
}

describe('config errors in plain words', () => {
  it('a missing key is "required"', () => {
    expect(problems('policy:\n  roles: {}\n  rules:\n    - { id: r }\n')).toEqual(['m.yaml:4: policy.rules[0].effect: required']);
  });

  it('a wrong type names what was expected and what was found', () => {
    expect(problems('server:\n  shutdown_grace_seconds: soon\npolicy:\n  roles: {}\n')).toEqual([
      'm.yaml:2: server.shutdown_grace_seconds: expected a number, got text',
    ]);
    expect(problems('server:\n  grpc:\n    max_receive_message_bytes: 2048.5\npolicy:\n  roles: {}\n')).toEqual([
      'm.yaml:3: server.grpc.max_receive_message_bytes: expected a whole number, got a fraction',
    ]);
  });

  it('bounds and empties say the bound', () => {
    expect(problems('server:\n  shutdown_grace_seconds: 900\npolicy:\n  roles: {}\n')).toEqual(['m.yaml:2: server.shutdown_grace_seconds: must be at most 300']);
    expect(problems("identity:\n  jwt: { header: '', issuers: [] }\npolicy:\n  roles: {}\n")).toEqual([
      'm.yaml:2: identity.jwt.header: must not be empty',
      'm.yaml:2: identity.jwt.issuers: needs at least one entry',
    ]);
  });

  it('messages the schema wrote itself pass through', () => {
    expect(problems("server:\n  grpc: { address: 'nope' }\npolicy:\n  roles: {}\n")).toEqual(['m.yaml:2: server.grpc.address: expected host:port']);
  });

  it('a bad value from an environment variable names the variable, not the file line', () => {
    const yaml = "server:\n  grpc: { address: '127.0.0.1:9191' }\npolicy:\n  roles: {}\n";
    expect(problems(yaml, { MODELGATE_GRPC_ADDRESS: 'everywhere' })).toEqual(['m.yaml: server.grpc.address (from env MODELGATE_GRPC_ADDRESS): expected host:port']);
    expect(problems(yaml, { MODELGATE_SHUTDOWN_GRACE_SECONDS: 'later' })).toEqual([
      'm.yaml: server.shutdown_grace_seconds (from env MODELGATE_SHUTDOWN_GRACE_SECONDS): expected a number, got text',
    ]);
  });
});
