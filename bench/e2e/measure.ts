// Measures every row with all stacks up at once and the rows interleaved: the maximum in rounds
// (the order rotated each round, the median kept), then each offered rate for every row in turn.
// On a shared 2-core machine the background load drifts by 2× within minutes; measured one row
// after another, a row's figure would say as much about when it ran as about what it is.

import type { LoadResult } from './load.js';
import { runLoad } from './load.js';
import { saturated, type RowResult } from './report.js';
import { allowedShot, probes, type Context, type RowSpec, type Stack } from './rows.js';
import { checkAnswers, merge, type Checked, type Probe } from './verify.js';

export interface MeasureOptions {
  readonly seconds: number;
  readonly maxSeconds: number;
  readonly warmup: number;
  readonly closed: { connections: number; streams: number };
  /** Offered rates as shares of the first row's (Envoy alone) median maximum. */
  readonly fractions: readonly number[];
  readonly rounds: number;
  readonly probesEach: number;
  readonly log: (line: string) => void;
}

interface Live {
  readonly row: RowSpec;
  readonly stack: Stack;
  readonly checks: Probe[];
  before?: Checked;
  readonly maxRuns: Array<LoadResult & { cpuUs: Record<string, number> }>;
  readonly points: LoadResult[];
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const medianRun = <T extends LoadResult>(runs: readonly T[]) => [...runs].sort((a, b) => a.achieved - b.achieved)[Math.floor(runs.length / 2)]!;

export async function measureAll(ctx: Context, rows: readonly RowSpec[], o: MeasureOptions): Promise<{ results: RowResult[]; rates: number[] }> {
  const live: Live[] = [];
  const shot = allowedShot(ctx);
  try {
    for (const row of rows) {
      live.push({ row, stack: await row.start(ctx), checks: probes(ctx, row), maxRuns: [], points: [] });
      o.log(`  (${row.id}) up: ${row.label}`);
    }
    for (const l of live) l.before = await checkAnswers(l.stack.envoy.port, l.checks, o.probesEach);
    for (let k = 0; k < o.rounds; k++) {
      for (let i = 0; i < live.length; i++) {
        const l = live[(i + k) % live.length]!;
        l.maxRuns.push(await runLoad({ port: l.stack.envoy.port, shot, seconds: o.maxSeconds, warmup: o.warmup, work: ctx.work, closed: o.closed, watch: l.stack.pids }));
      }
      o.log(`  max, round ${k + 1}: ${live.map((l) => `(${l.row.id}) ${Math.round(l.maxRuns[k]!.achieved)}`).join(', ')} req/s`);
    }
    const rates = o.fractions.map((f) => f * medianRun(live[0]!.maxRuns).achieved);
    for (const [j, rate] of rates.entries()) {
      for (let i = 0; i < live.length; i++) {
        const l = live[(i + j) % live.length]!;
        const p = await runLoad({ port: l.stack.envoy.port, shot, seconds: o.seconds, warmup: o.warmup, work: ctx.work, rate });
        l.points[j] = p;
        // A saturated row keeps working off its queue for a moment: let it, before the next row runs.
        if (saturated(p, medianRun(l.maxRuns).achieved)) await pause(1000);
      }
      o.log(`  ${Math.round(rate)}/s: ${live.map((l) => `(${l.row.id}) p50 ${(l.points[j]!.p50 / 1000).toFixed(2)} p99 ${(l.points[j]!.p99 / 1000).toFixed(2)}`).join(', ')} ms`);
    }
    // A probe sent into a saturated server's leftover queue could outlast ext_authz's 1 s timeout
    // (a 503, which says nothing about the decision).
    await pause(2000);
    const results: RowResult[] = [];
    for (const l of live) {
      const checked = merge(l.before!, await checkAnswers(l.stack.envoy.port, l.checks, o.probesEach));
      results.push({ id: l.row.id, label: l.row.label, max: medianRun(l.maxRuns), maxRounds: l.maxRuns.map((r) => r.achieved), points: l.points, checked });
    }
    return { results, rates };
  } finally {
    for (const l of live) await l.stack.stop();
  }
}
