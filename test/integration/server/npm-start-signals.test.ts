// Item 4 of issue 12, clean exits: `npm start -- --workers 2` run as a terminal runs a foreground job
// (its own process group, npm the group leader), then stopped the two ways an operator stops it:
// Ctrl-C (SIGINT to the whole group) and `kill PID` / a supervisor (SIGTERM to npm alone). Either
// way every process of the group is gone within seconds and no port is left listening. Before,
// `npm start` was `serve | pino-pretty` under `sh -c`: SIGTERM to npm killed only the shell, and the
// cluster primary and its workers kept serving as orphans.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../helpers/serve-process.js';
import { eventually } from '../../helpers/scrape.js';

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function readyz(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  } catch {
    return 0;
  }
}

describe('npm start stops every modelgate process', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-npm-start-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['Ctrl-C: SIGINT to the foreground process group', 'group', 'SIGINT'],
    ['kill PID: SIGTERM to npm alone', 'leader', 'SIGTERM'],
  ] as const)('%s', async (_name, target, signal) => {
    const ports = { grpc: await freePort(), admin: await freePort(), http: await freePort() };
    const configFile = join(dir, `modelgate-${signal}.yaml`);
    writeFileSync(
      configFile,
      `server:
  grpc: { address: '127.0.0.1:${ports.grpc}' }
  admin: { address: '127.0.0.1:${ports.admin}' }
  http: { enabled: true, address: '127.0.0.1:${ports.http}' }
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`,
    );
    // detached: a process group of its own with npm as its leader, as a shell makes a foreground job.
    const npm = spawn('npm', ['start', '--', '--workers', '2', '--config', configFile], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pgid = npm.pid!;
    let output = '';
    npm.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    npm.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const npmExited = new Promise<void>((ok) => npm.on('exit', () => ok()));
    try {
      // /readyz is 200 once the primary and both workers serve.
      await eventually(async () => (await readyz(ports.admin)) === 200, 45_000, `npm start to be ready\n${output}`);

      if (target === 'group') process.kill(-pgid, signal);
      else process.kill(pgid, signal);
      await npmExited;
      await eventually(() => !groupAlive(pgid), 15_000, `every process of group ${pgid} to exit\n${output}`);
      for (const port of Object.values(ports)) expect(await portIsFree(port)).toBe(true);
      // Both workers shut down in order, and pino-pretty printed their last lines.
      expect(output.match(/shutting down: no new checks, finishing in-flight ones/g)).toHaveLength(2);
    } finally {
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    }
  }, 90_000);
});
