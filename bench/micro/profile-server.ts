// CPU profile of one compiled modelgate under h2load: starts `serve --workers 1` with
// `node --cpu-prof`, drives it with one payload, stops it (SIGTERM writes the profile) and prints
// bench/profile-summary.ts of the result. The profile stays in bench/results/profiles/.
//
//   node --import tsx bench/micro/profile-server.ts [dist=bench/results/dist] [payload=api_key] [seconds=8] [--redis]
//   (--redis: the Redis limiter against a redis-server started for the run, as the bench's Redis row)

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkClient } from '../../src/grpc/client.js';
import { makeFixtures, type PayloadName } from '../fixtures.js';
import { closedLoop } from '../h2load.js';
import { freePort, ROOT, sampleDecisions } from '../procs.js';
import { startRedis } from '../redis.js';

const withRedis = process.argv.includes('--redis');
const argv = process.argv.slice(2).filter((a) => a !== '--redis');
const dist = resolve(argv[0] ?? join(ROOT, 'bench', 'results', 'dist'));
const payloadName = (argv[1] ?? 'api_key') as PayloadName;
const seconds = Number(argv[2] ?? 8);
const profiles = join(ROOT, 'bench', 'results', 'profiles');
mkdirSync(profiles, { recursive: true });

const work = mkdtempSync(join(tmpdir(), 'modelgate-prof-'));
const redis = withRedis ? await startRedis() : undefined;
try {
  const fx = await makeFixtures(work);
  const payload = fx.payloads[payloadName];
  const port = await freePort();
  const args = ['--cpu-prof', '--cpu-prof-dir', profiles, join(dist, 'cli', 'index.js'), 'serve', '--config', fx.configFile(await freePort(), redis?.url), '--address', `127.0.0.1:${port}`, '--workers', '1'];
  const started = Date.now();
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  process.once('exit', () => proc.kill('SIGKILL'));
  for (const deadline = Date.now() + 30_000; ; ) {
    const client = checkClient(`127.0.0.1:${port}`);
    const up = await client.check(payload.request, 1000).then(() => true, () => false);
    client.close();
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('modelgate did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  const sampled = await sampleDecisions(port, payload, 10, false);
  if (sampled.wrong.length > 0) throw new Error(`wrong decisions: ${sampled.wrong.join('; ')}`);
  const r = await closedLoop({ port, file: payload.file, connections: 4, streams: 8, seconds, warmupSeconds: 1, logFile: join(work, 'h2load.log') });
  console.log(`${payloadName}: ${r.rps.toFixed(0)} req/s, ${r.failed} failed`);
  proc.kill('SIGTERM');
  await new Promise((done) => proc.once('exit', done));
  const newest = readdirSync(profiles)
    .map((f) => join(profiles, f))
    .filter((f) => f.endsWith('.cpuprofile') && statSync(f).mtimeMs >= started)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!newest) throw new Error('no profile written');
  console.log(`profile: ${newest}`);
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'profile-summary.ts'), newest, '25'], { stdio: 'inherit', cwd: ROOT });
} finally {
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
}
