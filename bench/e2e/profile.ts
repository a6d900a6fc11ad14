// `npm run bench:e2e -- --profile`: after the measured rows, row (b) once more with modelgate under
// `node --cpu-prof` at the closed-loop load, summarised by bench/profile-summary.ts. Kept out of the
// table: the profiler itself slows the server.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../procs.js';
import { runLoad } from './load.js';
import { allowedShot, modelgate, type Context } from './rows.js';

export async function profileModelgate(ctx: Context, seconds: number, closed: { connections: number; streams: number }): Promise<string> {
  const dir = join(ROOT, 'bench', 'results', 'profiles');
  mkdirSync(dir, { recursive: true });
  const startedAt = Date.now();
  const stack = await modelgate(false, ['--cpu-prof', '--cpu-prof-dir', dir])(ctx);
  try {
    await runLoad({ port: stack.envoy.port, shot: allowedShot(ctx), seconds, warmup: 1, work: ctx.work, closed });
  } finally {
    // SIGTERM lets modelgate exit normally, which is when node writes the profile.
    await stack.stop();
  }
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= startedAt)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) return 'no profile was written (did modelgate exit on SIGTERM?)';
  const summary = execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'profile-summary.ts'), file, '12'], { cwd: ROOT, encoding: 'utf8' });
  return `${file.slice(ROOT.length + 1)}\n${summary}`;
}
