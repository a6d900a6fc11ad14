// `npm run bench:e2e [-- --seconds 3] [-- --update-docs] [-- --profile]`: what an authorization step adds to a
// request through real Envoy 1.40, every row in one run: Envoy alone, modelgate (memory and Redis
// limiter), a no-op Check server, OPA-Envoy with the same policy, Envoy's own jwt_authn + rbac.
// Builds what it needs (modelgate's dist/, OPA-Envoy once), checks every row's answers, and writes
// bench/results/e2e-<time>.{md,json,svg} (with --update-docs also docs/bench-e2e.svg).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { makeFixtures } from '../fixtures.js';
import { buildOpaEnvoy, opaEnvoyVersion } from '../peers/opa.js';
import { buildModelgate, ROOT } from '../procs.js';
import { addedLatencyChart } from './chart.js';
import { profileModelgate } from './profile.js';
import { envoyVersion, findEnvoy } from './envoy.js';
import { h2loadVersion } from './load.js';
import { redisVersion, startRedis } from '../redis.js';
import { latencyTable, shareOverNoop, targets, throughputTable, type RowResult } from './report.js';
import { ROWS, type Context } from './rows.js';
import { measureAll } from './measure.js';

const argv = process.argv.slice(2);
const value = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
/** Seconds measured per rate point and per maximum round (after 1 s of warm-up): the run stays under 5 minutes. */
const SECONDS = Number(value('seconds') ?? 3);
const MAX_SECONDS = Math.max(1, SECONDS - 1);
/** Rounds of the maximum, all rows in a rotated order each round; the median is kept. */
const ROUNDS = 3;
const WARMUP = 1;
/**
 * Offered rates as shares of row (a)'s maximum. 25% and 50% are the issue's; on 2 cores every
 * ext_authz row saturates below 25% of Envoy alone, so the lower rates show each row's curve.
 */
const FRACTIONS = [0.02, 0.05, 0.1, 0.25, 0.5];
const HALF = FRACTIONS.indexOf(0.5);
/**
 * Closed loop for the maximum: 4 connections × 64 streams. With fewer in flight (4×16) the
 * ext_authz rows read lower than the open loop later carried: more in flight, more work per wake-up.
 */
const CLOSED = { connections: 4, streams: 64 };
const PROBES_EACH = 5;

const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const log = (line: string) => process.stderr.write(`${line}\n`);
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = uptime();
  const command = `npm run bench:e2e${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const envoyBin = findEnvoy();
  log('building modelgate (tsc -p tsconfig.build.json into bench/results/dist)');
  buildModelgate();
  const opaBin = buildOpaEnvoy(log);
  const env = {
    date: new Date().toISOString(),
    machine: `${cpus()[0]?.model ?? '?'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}`,
    envoy: `${envoyVersion(envoyBin)} (--concurrency 1)`,
    node: `${process.version} (modelgate compiled to dist/, 1 worker; no-op server via tsx)`,
    'opa-envoy': `${opaEnvoyVersion(opaBin)}, GOMAXPROCS default (${cpus().length})`,
    redis: redisVersion(),
    generator: `${await h2loadVersion()}, 1 thread, h2c; max: closed loop ${CLOSED.connections}×${CLOSED.streams}; rates: --rps over 4 connections`,
    command,
  };
  for (const [k, v] of Object.entries(env)) log(`${k}: ${v}`);
  log(`load before: ${loadBefore}`);
  const work = mkdtempSync(join(tmpdir(), 'modelgate-e2e-'));
  const redis = await startRedis();
  const results: RowResult[] = [];
  try {
    const ctx: Context = { envoyBin, opaBin, work, fx: await makeFixtures(work), redis };
    const { results: measured, rates } = await measureAll(ctx, ROWS, { seconds: SECONDS, maxSeconds: MAX_SECONDS, warmup: WARMUP, closed: CLOSED, fractions: FRACTIONS, rounds: ROUNDS, probesEach: PROBES_EACH, log });
    results.push(...measured);
    const loadAfter = uptime();
    const profile = argv.includes('--profile') ? await profileModelgate(ctx, 3 * SECONDS, CLOSED) : undefined;
    const rateList = FRACTIONS.map((fraction, i) => ({ fraction, rate: rates[i]! }));
    const stamp = env.date.replace(/[:.]/g, '-');
    const md = [
      `## End to end through Envoy, ${env.date}`,
      '',
      ...Object.entries(env).filter(([k]) => k !== 'date').map(([k, v]) => `- ${k}: ${k === 'command' ? `\`${v}\`` : v}`),
      `- machine load: before \`${loadBefore}\`; after \`${loadAfter}\``,
      `- each point: ${WARMUP} s warm-up, then ${SECONDS} s per rate and ${MAX_SECONDS} s per maximum round (${ROUNDS} rounds, median; all rows up at once, interleaved); request: POST /v1/models/fraud-detector:predict with an ES256 JWT (analyst); upstream: Envoy direct_response`,
      '',
      throughputTable(results),
      '',
      latencyTable(results, rateList),
      '',
      '### Targets',
      '',
      ...targets(results, HALF).map((t) => `- ${t.met ? 'MET' : 'MISSED'}: ${t.text}`),
      '',
      `modelgate's own share, row (b) − row (d) (the no-op behind the same ext_authz), where both carried the load: ${shareOverNoop(results).join('; ') || 'no rate that both carried'}.`,
      '',
      ...(profile ? ['### Where modelgate spends its time (row (b) at the closed-loop load, `node --cpu-prof`, not part of the table)', '', '```', profile.trim(), '```', ''] : []),
      `Run took ${Math.round((Date.now() - started) / 1000)} s.`,
      '',
    ].join('\n');
    const svg = addedLatencyChart(results, `modelgate bench:e2e, ${env.date.slice(0, 16)}Z, ${cpus().length} cores, Envoy ${envoyVersion(envoyBin).split('/')[0]}`);
    const out = join(ROOT, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `e2e-${stamp}.md`), md);
    writeFileSync(join(out, `e2e-${stamp}.json`), JSON.stringify({ env, rates: rateList, rows: results, loadAfter }, null, 2));
    writeFileSync(join(out, `e2e-${stamp}.svg`), svg);
    if (argv.includes('--update-docs')) writeFileSync(join(ROOT, 'docs', 'bench-e2e.svg'), svg);
    process.stdout.write(`${md}\nwritten: bench/results/e2e-${stamp}.{md,json,svg}${argv.includes('--update-docs') ? ' and docs/bench-e2e.svg' : ''}\n`);
  } finally {
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
