// Budget admission compared with three anchors on the same request sequences: how many requests
// each admits and how far it overspends the budget. The anchors are MODELS of their documented
// behaviour (not their code); modelgate is its REAL memory ledger (src/budget), driven through the
// limiter port and the settler exactly as the Check and ext_proc paths drive it.
//
//   npm run bench:budget-anchors
//
// Anchor models (docs/budgets.md explains each):
//   envoy-ai-gateway  charges usage after the response; admits while used < limit (no reservation)
//   kuadrant          reserves a flat 5,000 tokens at admission; admits while used + reserved + 5,000 ≤ limit; settles actual
//   litellm           reserves the estimate at admission per instance, shared spend synced every 10 s
//                     (drift): admits while synced spend + own reservations + estimate ≤ limit; 2 instances

import { budgetsSchema } from '../../src/budget/config.js';
import { limitsSchema } from '../../src/ratelimit/config.js';
import { createLimiter } from '../../src/ratelimit/create-limiter.js';
import type { LimitRequest } from '../../src/ratelimit/limiter.js';

interface Req {
  readonly at: number;
  readonly durationMs: number;
  /** Tokens the admission can see: prompt estimate + max_tokens. */
  readonly estimate: number;
  /** Tokens the exchange really uses (input + output). */
  readonly actual: number;
}

interface Result {
  readonly admitted: number;
  readonly charged: number;
}

interface Admission {
  admit(r: Req, index: number, now: number): boolean | Promise<boolean>;
  finish(r: Req, index: number, now: number): void | Promise<void>;
  tick?(now: number): void;
}

/** Discrete events in time order: completions before arrivals at the same instant. */
async function run(requests: readonly Req[], admission: Admission): Promise<Result> {
  type Ev = { t: number; kind: 0 | 1; i: number };
  const events: Ev[] = requests.map((r, i) => ({ t: r.at, kind: 1, i }));
  let admitted = 0;
  let charged = 0;
  while (events.length > 0) {
    events.sort((a, b) => a.t - b.t || a.kind - b.kind || a.i - b.i);
    const ev = events.shift()!;
    admission.tick?.(ev.t);
    const r = requests[ev.i]!;
    if (ev.kind === 1) {
      if (await admission.admit(r, ev.i, ev.t)) {
        admitted++;
        events.push({ t: ev.t + r.durationMs, kind: 0, i: ev.i });
      }
    } else {
      charged += r.actual;
      await admission.finish(r, ev.i, ev.t);
    }
  }
  return { admitted, charged };
}

function envoyAiGateway(limit: number): Admission {
  let used = 0;
  return { admit: () => used < limit, finish: (r) => void (used += r.actual) };
}

function kuadrant(limit: number, flat = 5_000): Admission {
  let used = 0;
  let reserved = 0;
  return {
    admit: () => {
      if (used + reserved + flat > limit) return false;
      reserved += flat;
      return true;
    },
    finish: (r) => {
      reserved -= flat;
      used += r.actual;
    },
  };
}

function litellm(limit: number, instances = 2, syncMs = 10_000): Admission {
  let spend = 0;
  let synced = 0;
  let lastSync = 0;
  const reserved = new Array<number>(instances).fill(0);
  const owner = new Map<number, number>();
  return {
    tick: (now) => {
      if (now - lastSync >= syncMs) {
        synced = spend;
        lastSync = now;
      }
    },
    admit: (r, i) => {
      const k = i % instances; // round-robin load balancer
      if (synced + reserved[k]! + r.estimate > limit) return false;
      reserved[k]! += r.estimate;
      owner.set(i, k);
      return true;
    },
    finish: (r, i) => {
      reserved[owner.get(i)!]! -= r.estimate;
      spend += r.actual;
    },
  };
}

/** modelgate's real ledger: the memory limiter with one org-level token budget, settled with real usage. */
function modelgate(limit: number): Admission {
  const limiter = createLimiter(limitsSchema.parse({}), {
    budgets: budgetsSchema.parse({ reservation_ttl_ms: 600_000, estimate: { per_message_tokens: 0 }, budgets: [{ id: 'org', level: 'org', unit: 'tokens', limit, period: 'month' }] }),
  });
  const ids = new Map<number, string>();
  const T0 = Date.UTC(2026, 10, 2);
  const request = (r: Req, now: number): LimitRequest => ({
    identity: { subject: 'api_key:app', method: 'api_key', roles: [], attributes: { org: 'acme' } },
    model: 'm',
    action: 'chat',
    requestId: '',
    // Prompt of (estimate - 100) tokens at 4 bytes a token, max_tokens 100: the estimate is exactly r.estimate.
    body: () => ({ messages: [{ role: 'user', content: 'x'.repeat((r.estimate - 100) * 4) }], max_tokens: 100 }),
    now: T0 + now,
  });
  return {
    admit: async (r, i, now) => {
      const o = await limiter.take(request(r, now));
      if (o.allowed) ids.set(i, String(o.metadata.reservation_id));
      return o.allowed;
    },
    finish: async (r, i, now) => {
      const out = await limiter.settler!.settle({ reservationId: ids.get(i)!, usage: { inputTokens: r.estimate - 100, outputTokens: r.actual - (r.estimate - 100), cachedInputTokens: 0 }, failed: false, now: T0 + now });
      if (out.outcome !== 'settled') throw new Error(`anchors: settle ${out.outcome}`);
    },
  };
}

const LIMIT = 20_000;
const scenarios: Record<string, Req[]> = {
  // Overshoot: streams that use 3× their estimate (600 estimated, 1,800 used), one a second, 5 s each.
  'overshoot: 40 streams, 600 estimated, 1,800 used, 1/s, 5 s each': Array.from({ length: 40 }, (_, i) => ({ at: i * 1_000, durationMs: 5_000, estimate: 600, actual: 1_800 })),
  // Concurrency: 50 requests at once against a budget that fits k = 20 of them (1,000 each, as estimated).
  'concurrency: 50 at once, 1,000 each, budget fits 20': Array.from({ length: 50 }, () => ({ at: 0, durationMs: 3_000, estimate: 1_000, actual: 1_000 })),
};

const anchors: Record<string, () => Admission> = {
  'envoy-ai-gateway (model)': () => envoyAiGateway(LIMIT),
  'kuadrant (model)': () => kuadrant(LIMIT),
  'litellm (model, 2 instances)': () => litellm(LIMIT),
  'modelgate (real ledger)': () => modelgate(LIMIT),
};

console.log(`budget ${LIMIT} tokens; overspend = max(0, tokens charged − budget)`);
console.log('| scenario | admission rule | admitted | tokens charged | overspend |');
console.log('|---|---|---|---|---|');
for (const [scenario, requests] of Object.entries(scenarios)) {
  for (const [name, make] of Object.entries(anchors)) {
    const { admitted, charged } = await run(requests, make());
    if (admitted < 0 || admitted > requests.length) throw new Error('anchors: impossible admitted count');
    console.log(`| ${scenario} | ${name} | ${admitted} / ${requests.length} | ${charged} | ${Math.max(0, charged - LIMIT)} |`);
  }
}
