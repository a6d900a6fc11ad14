// Child processes of the benches (Envoy, OPA-Envoy, redis-server): started, polled until
// ready, stopped on the way out, and SIGKILLed if the bench itself dies first.

import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** The last few KB of its stdout and stderr, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

const exited = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((ok) => p.once('exit', () => ok()));

/** Spawns `cmd` and resolves once `ready()` says so; rejects with the child's output if it exits or stalls. */
export async function startChild(name: string, cmd: string, args: readonly string[], ready: () => Promise<boolean>, cwd?: string): Promise<Child> {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let log = '';
  const keep = (c: Buffer) => (log = (log + c.toString()).slice(-8000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  proc.once('error', (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
  const child: Child = {
    name,
    proc,
    log: () => log,
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited(proc);
      clearTimeout(timer);
      live.delete(proc);
    },
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    if (await ready().catch(() => false)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  await child.stop();
  throw new Error(`${name} did not become ready (exit ${proc.exitCode ?? proc.signalCode}):\n${log.slice(-3000)}`);
}

/** GET over HTTP/1.1 on 127.0.0.1; status and body. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
