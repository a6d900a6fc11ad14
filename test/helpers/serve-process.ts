// `modelgate serve` as a child process for tests: free ports, and a start that resolves once the
// expected number of processes log that they serve.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export const CLI = ['--import', 'tsx', 'src/cli/index.ts'];

/** A port free right now on 127.0.0.1 (cluster mode needs a fixed port: workers sharing port 0 do not share one port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

export interface ServeProcess {
  readonly proc: ChildProcess;
  /** Every JSON line the process group wrote to stdout, in order. */
  readonly lines: Array<Record<string, unknown>>;
  readonly stderr: () => string;
  /** The gRPC port from the first "serving" line. */
  readonly port: number;
}

/**
 * Spawns `modelgate serve ARGS` and resolves once `serving` processes logged that they serve ext_authz.
 * `preload`: extra `--import` modules (after tsx, so they may be TypeScript), e.g. a fault injector.
 */
export function startServe(args: readonly string[], serving = 1, env: NodeJS.ProcessEnv = {}, preload: readonly string[] = []): Promise<ServeProcess> {
  const node = [...CLI.slice(0, -1), ...preload.flatMap((m) => ['--import', m]), ...CLI.slice(-1)];
  const proc = spawn(process.execPath, [...node, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let err = '';
  let seen = 0;
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line.msg === 'modelgate serving ext_authz' && ++seen === serving) {
          const port = Number(lines.find((l) => l.msg === 'modelgate serving ext_authz')!.port);
          resolve({ proc, lines, stderr: () => err, port });
        }
      }
    });
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}
