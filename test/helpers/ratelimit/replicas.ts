// Two modelgate replicas sharing one config (and so one Redis) for the limiter's load tests: as
// `modelgate serve` processes (the operator's setup) or as two gates in this process (one event
// loop for both, the busier case). Each replica's log lines are kept for assertions.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGate, type TestGate } from '../gate.js';
import { startServe, type ServeProcess } from '../serve-process.js';

/** A modelgate config: mTLS principals `spiffe://t/*` are analysts, allowed, and limited by `buckets` on `redisUrl`. */
export const limitedConfig = (redisUrl: string, buckets: readonly string[]) => `
server: { admin: { enabled: false } }
log: { decisions: false }
identity:
  order: [mtls]
  mtls:
    sources: [principal]
    workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
limits:
  redis: { url: '${redisUrl}' }
  buckets:
${buckets.map((b) => `    - ${b}`).join('\n')}
`;

export interface Replicas {
  readonly addresses: readonly string[];
  /** Each replica's JSON log lines so far. */
  readonly logs: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>;
  close(): Promise<void>;
}

export type StartReplicas = (yaml: string) => Promise<Replicas>;

export const inProcess: StartReplicas = async (yaml) => {
  const gates: TestGate[] = await Promise.all([startTestGate(yaml), startTestGate(yaml)]);
  return {
    addresses: gates.map((g) => g.address),
    logs: gates.map((g) => g.logs),
    close: async () => void (await Promise.all(gates.map((g) => g.close()))),
  };
};

export const serveProcesses: StartReplicas = async (yaml) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-replicas-'));
  writeFileSync(join(dir, 'modelgate.yaml'), yaml);
  const started = await Promise.allSettled(
    [0, 1].map(() => startServe(['--workers', '1', '--config', join(dir, 'modelgate.yaml'), '--address', '127.0.0.1:0'])),
  );
  const procs = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const close = async () => {
    await Promise.all(procs.map(stop));
    rmSync(dir, { recursive: true, force: true });
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  return { addresses: procs.map((p) => `127.0.0.1:${p.port}`), logs: procs.map((p) => p.lines), close };
};

function stop(p: ServeProcess): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const timer = setTimeout(() => p.proc.kill('SIGKILL'), 10_000);
    p.proc.once('exit', () => {
      clearTimeout(timer);
      ok();
    });
    p.proc.kill('SIGTERM');
  });
}
