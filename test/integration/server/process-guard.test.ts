// The process guard of `modelgate serve` (item 3 of issue 12), in real processes with a fault
// injected as a bug would make it (test/helpers/inject-fault.ts, preloaded, fires on SIGUSR2):
// - an unhandled rejection is logged once with its class, counted in
//   modelgate_uncaught_errors_total, and the process keeps answering checks;
// - an uncaught exception is logged once with its class, the process drains and exits 1 for its
//   supervisor to restart (docs/operations.md says why); under --workers the primary is that
//   supervisor: it replaces the worker and the group keeps answering.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';
import { freePort, startServe, type ServeProcess } from '../../helpers/serve-process.js';
import { eventually, scrape, value } from '../../helpers/scrape.js';

const INJECT = resolve('test/helpers/inject-fault.ts');

/** The exit code, once stdout is read to its end too ('close' comes after the last line). */
const exited = (proc: ServeProcess['proc']) => new Promise<number | null>((ok) => proc.on('close', (code) => ok(code)));

describe('process guard', () => {
  let dir: string;
  let configFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-guard-'));
    configFile = join(dir, 'modelgate.yaml');
    writeFileSync(
      configFile,
      `server: { admin: { address: '127.0.0.1:0' } }
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const checkOnce = async (port: number) => {
    const client = checkClient(`127.0.0.1:${port}`);
    try {
      return (await client.check(envoyCheckRequest({ principal: 'spiffe://t/caller' }))).status.code;
    } finally {
      client.close();
    }
  };

  it('an unhandled rejection: one log line with its class, counted, and checks keep being answered', async () => {
    const serve = await startServe(['--workers', '1', '--config', configFile, '--address', '127.0.0.1:0'], 1, { MODELGATE_TEST_FAULT: 'rejection' }, [INJECT]);
    try {
      const adminPort = Number(serve.lines.find((l) => l.msg === 'modelgate serving metrics and health')!.port);
      expect(await checkOnce(serve.port)).toBe(0);
      serve.proc.kill('SIGUSR2');
      const guarded = () => serve.lines.filter((l) => l.kind === 'unhandled_rejection');
      await eventually(() => guarded().length > 0, 10_000, 'the guard to log the rejection');
      expect(guarded()).toHaveLength(1);
      expect(guarded()[0]).toMatchObject({
        level: 'error',
        error_class: 'InjectedFault',
        msg: 'unhandled promise rejection: logged and counted; serving goes on',
        err: { message: 'a promise nobody awaited' },
      });
      const samples = await scrape(adminPort);
      expect(value(samples, 'modelgate_uncaught_errors_total', { kind: 'unhandled_rejection', class: 'InjectedFault' })).toBe(1);
      expect(value(samples, 'modelgate_uncaught_errors_total', { kind: 'uncaught_exception' })).toBe(0);
      expect(await checkOnce(serve.port)).toBe(0);
      expect(serve.proc.exitCode).toBeNull();

      const code = exited(serve.proc);
      serve.proc.kill('SIGTERM');
      expect(await code).toBe(0);
      expect(serve.stderr()).toBe('');
    } finally {
      serve.proc.kill('SIGKILL');
    }
  });

  it('an uncaught exception: one fatal line with its class, a drain, then exit 1 for the supervisor', async () => {
    const serve = await startServe(['--workers', '1', '--config', configFile, '--address', '127.0.0.1:0'], 1, { MODELGATE_TEST_FAULT: 'exception' }, [INJECT]);
    try {
      expect(await checkOnce(serve.port)).toBe(0);
      const code = exited(serve.proc);
      serve.proc.kill('SIGUSR2');
      expect(await code).toBe(1);
      const fatal = serve.lines.filter((l) => l.kind === 'uncaught_exception');
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({ level: 'fatal', error_class: 'InjectedFault', err: { message: 'a throw nobody caught' } });
      // It stopped the way SIGTERM stops it, bounded: no new checks, in-flight ones finished.
      expect(serve.lines.some((l) => l.msg === 'shutting down: no new checks, finishing in-flight ones' && l.signal === 'uncaughtException')).toBe(true);
    } finally {
      serve.proc.kill('SIGKILL');
    }
  });

  it('--workers 2: a worker that dies of an uncaught exception is replaced and the group keeps answering', async () => {
    const port = await freePort();
    const serve = await startServe(['--workers', '2', '--config', configFile, '--address', `127.0.0.1:${port}`], 2, { MODELGATE_TEST_FAULT: 'exception' }, [INJECT]);
    try {
      // Each decision line names its worker; one connection per check, handed out round-robin.
      for (let i = 0; i < 4; i++) expect(await checkOnce(port)).toBe(0);
      const workers = [...new Set(serve.lines.filter((l) => l.msg === 'decision').map((l) => Number(l.pid)))];
      expect(workers).toHaveLength(2);
      process.kill(workers[0]!, 'SIGUSR2');
      await eventually(() => serve.stderr().includes(`worker ${workers[0]} died (exit 1); starting a replacement`), 15_000, 'the primary to replace the worker');
      // Meanwhile and after, the group answers: the other worker, then the replacement too.
      expect(await checkOnce(port)).toBe(0);
      await eventually(() => serve.lines.filter((l) => l.msg === 'modelgate serving ext_authz').length === 3, 30_000, 'a replacement worker');
      for (let i = 0; i < 4; i++) expect(await checkOnce(port)).toBe(0);

      const code = exited(serve.proc);
      serve.proc.kill('SIGTERM');
      expect(await code).toBe(0);
    } finally {
      serve.proc.kill('SIGKILL');
    }
  }, 90_000);
});
