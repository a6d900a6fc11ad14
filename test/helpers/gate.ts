// Starts a real modelgate (in-process, real gRPC socket on a free port) from a YAML string.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { checkClient, type CheckClient } from '../../src/grpc/client.js';
import { startModelgate, type Modelgate } from '../../src/main.js';

export interface TestGate {
  readonly gate: Modelgate;
  readonly client: CheckClient;
  readonly address: string;
  readonly dir: string;
  /** Every JSON line the process logged (decision log included). */
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface TestGateOptions {
  /** Extra files written next to the config (JWKS files, secrets). */
  readonly files?: Record<string, string>;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
}

export async function startTestGate(yaml: string, options: TestGateOptions = {}): Promise<TestGate> {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-test-'));
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
  const configFile = join(dir, 'modelgate.yaml');
  writeFileSync(configFile, yaml);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, sink);
  const gate = await startModelgate({
    configFile,
    env: { ...options.env },
    grpcAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    logger,
    now: options.now,
  });
  const address = `127.0.0.1:${gate.grpcPort}`;
  const client = checkClient(address);
  return {
    gate,
    client,
    address,
    dir,
    logs,
    async close() {
      client.close();
      await gate.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
