// Paired A/B of two compiled modelgate builds against the no-op ceiling on a noisy machine: all
// three servers stay up, and each round measures them back to back (order rotating) with h2load,
// so drifting background load lands on all three alike. Prints each round's ratios and the spread.
//
//   node --import tsx bench/micro/ab-servers.ts <distA> <distB> [rounds=5] [payload=api_key] [seconds=2] [--redis]
//   (--redis: both builds use the Redis limiter against one redis-server started for the run)
//   (a dist is a `tsc -p tsconfig.build.json --outDir <dist>` of a tree, e.g. bench/results/dist)

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkClient } from '../../src/grpc/client.js';
import { makeFixtures, type Payload, type PayloadName } from '../fixtures.js';
import { closedLoop } from '../h2load.js';
import { freePort, sampleDecisions, startCeiling, type Server } from '../procs.js';
import { startRedis } from '../redis.js';

const withRedis = process.argv.includes('--redis');
const argv = process.argv.slice(2).filter((a) => a !== '--redis');
const [distA, distB] = [argv[0], argv[1]].map((d) => (d ? resolve(d) : undefined));
if (!distA || !distB) throw new Error('usage: ab-servers.ts <distA> <distB> [rounds] [payload] [seconds] [--redis]');
const rounds = Number(argv[2] ?? 5);
const payloadName = (argv[3] ?? 'api_key') as PayloadName;
const seconds = Number(argv[4] ?? 2);

const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));

async function startBuild(dist: string, configFile: string, probe: Payload): Promise<Server> {
  const port = await freePort();
  const args = [join(dist, 'cli', 'index.js'), 'serve', '--config', configFile, '--address', `127.0.0.1:${port}`, '--workers', '1'];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(proc);
  for (const deadline = Date.now() + 30_000; ; ) {
    const client = checkClient(`127.0.0.1:${port}`);
    const up = await client.check(probe.request, 1000).then(() => true, () => false);
    client.close();
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`${dist} did not start`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name: dist,
    port,
    proc,
    stop: async () => {
      proc.kill('SIGTERM');
      children.delete(proc);
    },
  };
}

const work = mkdtempSync(join(tmpdir(), 'modelgate-ab-'));
const redis = withRedis ? await startRedis() : undefined;
try {
  const fx = await makeFixtures(work);
  const payload = fx.payloads[payloadName];
  const ceiling = await startCeiling(1, fx.payloads.api_key);
  // Separate admin ports: both builds run at once.
  const a = await startBuild(distA, fx.configFile(await freePort(), redis?.url), payload);
  const b = await startBuild(distB, fx.configFile(await freePort(), redis?.url), payload);
  for (const s of [a, b]) {
    const sampled = await sampleDecisions(s.port, payload, 10, false);
    if (sampled.wrong.length > 0) throw new Error(`${s.name}: wrong decisions ${sampled.wrong.join('; ')}`);
  }
  const servers = { ceiling, A: a, B: b };
  const ratios: Record<'A' | 'B', number[]> = { A: [], B: [] };
  for (let round = 0; round < rounds; round++) {
    const order = (['ceiling', 'A', 'B'] as const).map((_, i, all) => all[(i + round) % 3]!);
    const rps: Record<string, number> = {};
    for (const name of order) {
      const r = await closedLoop({ port: servers[name].port, file: payload.file, connections: 4, streams: 8, seconds, warmupSeconds: 1, logFile: join(work, 'h2load.log') });
      if (r.failed > 0) throw new Error(`${name}: ${r.failed} failed requests`);
      rps[name] = r.rps;
    }
    ratios.A.push(rps.A! / rps.ceiling!);
    ratios.B.push(rps.B! / rps.ceiling!);
    console.log(`round ${round + 1}: ceiling ${rps.ceiling!.toFixed(0)}/s, A ${rps.A!.toFixed(0)}/s (${(100 * ratios.A.at(-1)!).toFixed(0)}%), B ${rps.B!.toFixed(0)}/s (${(100 * ratios.B.at(-1)!).toFixed(0)}%)`);
  }
  for (const s of [a, b]) {
    const sampled = await sampleDecisions(s.port, payload, 10, false);
    if (sampled.wrong.length > 0) throw new Error(`${s.name}: wrong decisions ${sampled.wrong.join('; ')}`);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  for (const k of ['A', 'B'] as const) {
    console.log(`${k} (${k === 'A' ? distA : distB}): × ceiling median ${pct(median(ratios[k]))}, range ${pct(Math.min(...ratios[k]))}–${pct(Math.max(...ratios[k]))}`);
  }
  await Promise.all([a.stop(), b.stop(), ceiling.stop()]);
} finally {
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
}
