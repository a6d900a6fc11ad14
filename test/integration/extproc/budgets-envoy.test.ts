// Budgets end to end through the LLM gateway Envoy: admission at the Check (src/budget/, real Redis
// ledger), settlement from ext_proc when the answer ends, and the failures in between.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVOY_BIN } from '../../helpers/envoy.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import type { Scenario } from '../../helpers/fake-openai.js';
import type { Node } from '../../helpers/envoy.js';
import { GATE_YAML, startLlmStack, type LlmStack, type StreamedReply } from '../../helpers/llm-stack.js';

// Each scenario has its own model family, so its own budget. A request for max_tokens 300 with a
// one-word prompt is estimated at 300 + a few input tokens: three fit in 1000, a fourth does not.
const budgetsYaml = (redisUrl: string) => `${GATE_YAML}
limits:
  redis: { url: '${redisUrl}', timeout_ms: 200 }
budgets:
  reservation_ttl_ms: 2000
  budgets:
    - { id: fit, level: subject, unit: tokens, limit: 1000, period: day, models: ['fit-*'] }
    - { id: over, level: subject, unit: tokens, limit: 1000, period: day, models: ['over-*'] }
    - { id: failures, level: subject, unit: tokens, limit: 100000, period: day, models: ['fail-*'] }
    - { id: restart, level: subject, unit: tokens, limit: 400, period: day, models: ['restart-*'] }
    - { id: closed, level: subject, unit: tokens, limit: 100000, period: day, models: ['closed-*'], on_redis_error: fail_closed }
    - { id: open, level: subject, unit: tokens, limit: 100000, period: day, models: ['open-*'], on_redis_error: fail_open }
`;

const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 300, ...extra });
const reasonOf = (r: StreamedReply) => (JSON.parse(r.body.toString()) as { reason?: string }).reason;

/** Polls until `check` holds; the test's own timeout bounds it (no timed assertion). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

describe.skipIf(!ENVOY_BIN)('budgets through Envoy: Check admission, ext_proc settlement', () => {
  let redis: RedisServer;
  let stack: LlmStack;
  const decisions = () => stack.logs.filter((l) => l.msg === 'decision');
  /** modelgate's log line per settled exchange (exchanges without a reservation, such as denied requests, log at debug without one). */
  const settlements = () => stack.logs.filter((l) => (l.msg === 'llm exchange' || l.msg === 'llm exchange not settled') && l.reservation_id !== undefined);
  /** The settlement log line of the next exchange `run` ends. */
  async function settlementOf(run: () => Promise<unknown>): Promise<Record<string, unknown>> {
    const before = settlements().length;
    await run();
    await until(() => settlements().length > before);
    return settlements()[before]!;
  }
  const chat = (model: string, scenario?: Scenario, extra?: Record<string, unknown>) => stack.chat(chatBody(model, extra), scenario);

  beforeAll(async () => {
    redis = await startRedis();
    // Test-only change to the shipped llm.yaml: the chat route's reservation TTL (its 120 s route
    // timeout there) down to the 2 s the restart case waits out.
    stack = await startLlmStack({ gateYaml: budgetsYaml(redis.url), transform: (doc) => setRouteTtl(doc, '2000') });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('admits exactly the concurrent requests that fit; settling frees the unused reservation for the next', async () => {
    const before = decisions().length;
    const replies = Array.from({ length: 5 }, () => chat('fit-a', { hold: true, usage: { prompt_tokens: 5, completion_tokens: 10 } }));
    const atModel = () => stack.fake.received.filter((r) => r.body.model === 'fit-a').length;
    const denied = () => decisions().slice(before).filter((d) => d.decision === 'deny').length;
    await until(() => decisions().length === before + 5 && atModel() + denied() === 5);
    // All five were decided while the admitted ones are still in flight at the model.
    expect(atModel()).toBe(3);
    expect(decisions().slice(before).filter((d) => d.decision === 'deny').map((d) => d.reason)).toEqual(['budget_exhausted', 'budget_exhausted']);
    const settledBefore = settlements().length;
    stack.fake.release();
    const done = await Promise.all(replies);
    expect(done.map((r) => r.status).sort()).toEqual([200, 200, 200, 403, 403]);
    for (const denied of done.filter((r) => r.status === 403)) expect(reasonOf(denied)).toBe('budget_exhausted');
    await until(() => settlements().length === settledBefore + 3);
    for (const line of settlements().slice(settledBefore)) {
      expect(line).toMatchObject({ settlement: 'settled', failed: false, usage_source: 'body', charged_input_tokens: 5, charged_output_tokens: 10 });
    }
    // 3 × 15 used; the reservations' unused rest is free again, so three more fit.
    const next = await Promise.all([chat('fit-a'), chat('fit-a'), chat('fit-a')]);
    expect(next.map((r) => r.status)).toEqual([200, 200, 200]);
    await until(() => settlements().length === settledBefore + 6);
  });

  it('charges an overshooting stream in full, and then refuses the next', async () => {
    const stream = { stream: true, stream_options: { include_usage: true } };
    const line = await settlementOf(() => chat('over-a', { usage: { prompt_tokens: 5, completion_tokens: 990 }, chunkBytes: 64 }, stream));
    expect(line).toMatchObject({ settlement: 'settled', usage_source: 'sse', usage_output_tokens: 990, charged_output_tokens: 990 });
    const next = await chat('over-a');
    expect(next.status).toBe(403);
    expect(reasonOf(next)).toBe('budget_exhausted');
  });

  it('an upstream 500 settles at the input cost, never the estimate', async () => {
    const line = await settlementOf(() => chat('fail-a', { status: 500 }));
    expect(line).toMatchObject({ settlement: 'settled', failed: true, status: 500, charged_output_tokens: 0 });
    expect(line.charged_input_tokens).toBeGreaterThan(0);
    expect(line.charged_input_tokens).toBeLessThan(300);
  });

  it('a client that disconnects mid-stream is settled (failed)', async () => {
    const before = settlements().length;
    const { res } = await stack.chatOpen(chatBody('fail-b', { stream: true }), { chunkBytes: 30, stallAfterBytes: 60 });
    res.destroy();
    await until(() => settlements().length > before);
    expect(settlements()[before]).toMatchObject({ settlement: 'settled', failed: true, end: 'cancelled' });
  });

  it('modelgate restarted between admission and settlement: the reservation expires, nothing leaks', async () => {
    const first = chat('restart-a', { hold: true }).catch((e: unknown) => e);
    await until(() => stack.fake.received.some((r) => r.body.model === 'restart-a'));
    // 400 tokens: the held request reserved ~305, so a second one does not fit now.
    const refused = await chat('restart-b');
    expect(refused.status).toBe(403);
    await stack.restartGate();
    stack.fake.release();
    await first;
    // However the old process ended the exchange (settled on the way down, or not at all), the
    // reservation ends within its TTL and the budget is whole again.
    for (;;) {
      const next = await chat('restart-b');
      if (next.status === 200) break;
      expect(reasonOf(next)).toBe('budget_exhausted');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('Redis down: a fail_closed budget refuses, a fail_open budget admits', async () => {
    await redis.kill();
    const closed = await chat('closed-a');
    expect(closed.status).toBe(503);
    expect(reasonOf(closed)).toBe('limiter_unavailable');
    const open = await chat('open-a');
    expect(open.status).toBe(200);
  });
});

/** The chat route's `reservation_ttl_ms` context extension (envoy/llm.yaml sets it to the route timeout). */
function setRouteTtl(doc: Node, ms: string): void {
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const routes = hcm.route_config.virtual_hosts[0].routes as Node[];
  const chat = routes.find((r) => r.match?.path === '/v1/chat/completions')!;
  const ext = chat.typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.context_extensions;
  if (ext.reservation_ttl_ms === undefined) throw new Error('llm.yaml no longer sets reservation_ttl_ms on the chat route');
  ext.reservation_ttl_ms = ms;
}
