// Shared by the budget tests (test/integration/budget, test/unit/budget): builds the same budget config on the memory ledger and on a real Redis (request clock), for
// tests that run one scenario against both and compare.

import { limitsSchema } from '../../../src/ratelimit/config.js';
import { budgetsSchema } from '../../../src/budget/config.js';
import { createLimiter } from '../../../src/ratelimit/create-limiter.js';
import type { Limiter, LimitOutcome, LimitRequest } from '../../../src/ratelimit/limiter.js';
import type { BudgetSettler } from '../../../src/budget/ledger.js';
import type { BudgetEvents } from '../../../src/budget/events.js';

export interface TestLedger {
  readonly name: string;
  readonly limiter: Limiter;
  readonly settler: BudgetSettler;
  close(): Promise<void>;
}

export async function ledgerFor(name: string, url: string | undefined, budgets: Record<string, unknown>, limits: Record<string, unknown> = {}, events?: BudgetEvents): Promise<TestLedger> {
  const limitsConfig = limitsSchema.parse({ ...limits, redis: { ...(url === undefined ? {} : { url, timeout_ms: 2_000 }), ...(limits.redis as object) } });
  const limiter = createLimiter(limitsConfig, { budgets: budgetsSchema.parse(budgets), clock: 'request', events });
  const deadline = Date.now() + 10_000;
  while (url !== undefined && !(await limiter.ready())) {
    if (Date.now() > deadline) throw new Error('redis not ready');
    await new Promise((r) => setTimeout(r, 25));
  }
  return { name, limiter, settler: limiter.settler!, close: () => limiter.close() };
}

export const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

export function chat(opts: { subject?: string; team?: string; org?: string; model?: string; prompt?: string; maxTokens?: number; now?: number; body?: unknown; ttlMs?: number } = {}): LimitRequest {
  const attributes: Record<string, string> = {};
  if (opts.team !== undefined) attributes.team = opts.team;
  if (opts.org !== undefined) attributes.org = opts.org;
  const body = opts.body !== undefined ? opts.body : { model: opts.model ?? 'gpt-4o', messages: [{ role: 'user', content: opts.prompt ?? 'x'.repeat(396) }], max_tokens: opts.maxTokens ?? 100 };
  return {
    identity: { subject: opts.subject ?? 'api_key:alice', method: 'api_key', roles: [], attributes },
    model: opts.model ?? 'gpt-4o',
    action: 'chat',
    requestId: 'r',
    body: () => body,
    now: opts.now ?? T0,
    ...(opts.ttlMs === undefined ? {} : { contextExtensions: { reservation_ttl_ms: String(opts.ttlMs) } }),
  };
}

/** The reservation id of an allowed outcome. */
export function reservationOf(outcome: LimitOutcome): string {
  const id = outcome.metadata.reservation_id;
  if (typeof id !== 'string') throw new Error(`no reservation in ${JSON.stringify(outcome)}`);
  return id;
}

/** The comparable parts of an outcome: no reservation ids (random), everything else. */
export function comparable(outcome: LimitOutcome): unknown {
  const { reservation_id: _id, ...metadata } = outcome.metadata;
  return { ...outcome, metadata };
}
