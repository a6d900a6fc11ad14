// With tracing off, a running modelgate never loads the OpenTelemetry SDK or an exporter: a
// resolve hook in a child process refuses them, and the server must still start and answer.
// The same probe with tracing on must trip, so the check can fail.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-lazy-otel-'));
const configFile = join(dir, 'modelgate.yaml');
writeFileSync(
  configFile,
  `identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ match: 'spiffe://t/a', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
`,
);

const HOOK = `export async function resolve(specifier, context, next) {
  if (/@opentelemetry\\/(sdk-|exporter-|resources)/.test(specifier)) throw new Error('refused to load ' + specifier);
  return next(specifier, context);
}`;

function start(env: Record<string, string>): { status: number | null; out: string } {
  const script = [
    "import { register } from 'node:module';",
    `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}));`,
    `const { startModelgate } = await import(${JSON.stringify(resolve('src/main.ts'))});`,
    `const gate = await startModelgate({ configFile: ${JSON.stringify(configFile)}, env: ${JSON.stringify(env)}, grpcAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', watch: false });`,
    'await gate.close();',
    "console.log('started');",
    'process.exit(0);',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, out: `${run.stdout}\n${run.stderr}` };
}

describe('the OpenTelemetry SDK is loaded only when tracing is on', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tracing off: the server starts without it', () => {
    const run = start({});
    expect(run.out).toContain('started');
    expect(run.status).toBe(0);
  });

  it('tracing on: the same probe refuses the SDK (so the check above can fail)', () => {
    const run = start({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(run.out).toMatch(/refused to load @opentelemetry\/(sdk-|exporter-|resources)/);
    expect(run.status).not.toBe(0);
  });
});
