// Settlement: charges a reservation's actual usage and frees the rest, by reservation id alone,
// on Redis (one script, SETTLE_LUA) or on the memory ledger. Idempotent; never throws.

import type { BudgetSettler } from './settler-port.js';
import type { SettleRequest, SettleResult } from './settler-port.js';
import type { ReservationRecord } from './admission.js';
import type { BudgetEvents } from './events.js';
import { SETTLE_LUA } from './admit-script.js';
import { counterAt, decodePeriod } from './periods.js';
import { moneyMicroUnits } from './prices.js';
import { amountIn } from './plan.js';
import { decodeReservationId } from './reservation-id.js';
import type { MemoryLedger, SettleLine } from './memory-ledger.js';
import type { LimiterClient } from '../ratelimit/redis-connection.js';
import { withTimeout } from '../ratelimit/with-timeout.js';

export interface Charged {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  readonly microUnits: number;
}

/**
 * What to charge: the usage in full (an overrun beyond the estimate too). Failed or no usage: the
 * input cost only, from the usage's input tokens when known, else the admission's input estimate.
 */
export function chargeFor(record: ReservationRecord, request: Pick<SettleRequest, 'usage' | 'failed'>): Charged {
  const usage = request.usage;
  const inputTokens = whole(usage?.inputTokens ?? record.estimate[0]);
  const cachedInputTokens = Math.min(inputTokens, whole(usage?.cachedInputTokens ?? 0));
  const outputTokens = request.failed || usage === undefined ? 0 : whole(usage.outputTokens);
  const [input, output, cachedInput] = record.price;
  const microUnits = moneyMicroUnits({ input, output, cachedInput, maxOutputTokens: undefined }, inputTokens, outputTokens, cachedInputTokens);
  return { inputTokens, outputTokens, cachedInputTokens, microUnits };
}

/** Usage numbers come from an upstream response: anything not a finite count ≥ 0 counts as 0. */
const whole = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0);

/** Each line's keys and actual amount at settlement time (the period instance of `now`). */
export function settleLines(record: ReservationRecord, charged: Charged, now: number): SettleLine[] {
  return record.lines.map(([base, unit, , period]) => {
    const spec = decodePeriod(period) ?? { kind: 'calendar', period: 'day' };
    const counter = counterAt(spec, now);
    return {
      usedKey: `${base}:${counter.suffix}`,
      reservedKey: `${base}:r`,
      amount: amountIn(unit, charged.inputTokens, charged.outputTokens, charged.microUnits),
      slice: counter.slice,
      usedTtlMs: counter.ttlMs,
    };
  });
}

const result = (outcome: SettleResult['outcome'], charged?: Charged): SettleResult =>
  charged === undefined ? { outcome } : { outcome, charged: { inputTokens: charged.inputTokens, outputTokens: charged.outputTokens, microUnits: charged.microUnits } };

type SettleCommand = (...keysAndArgs: string[]) => Promise<unknown[]>;

/** Settlement is off the Check path, but a hung Redis must still not hold an exchange forever. */
const SETTLE_TIMEOUT_MS = 2_000;

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return withTimeout(promise, ms, () => new Error(`redis did not answer within ${ms} ms`));
}

/**
 * Settles on Redis; a reservation Redis does not know (or cannot answer for) may have been made
 * by the fail_open fallback while Redis was down: the memory ledger is asked next.
 */
export class RedisSettler implements BudgetSettler {
  constructor(
    private readonly client: LimiterClient,
    private readonly prefix: string,
    private readonly fallback: MemorySettler | undefined,
    private readonly events: BudgetEvents = {},
  ) {}

  async settle(request: SettleRequest): Promise<SettleResult> {
    let out = await this.#run(request.reservationId, 'settle', request, request.now);
    if (this.fallback !== undefined && (out.result.outcome === 'unknown' || out.result.outcome === 'error')) {
      const local = this.fallback.run(request.reservationId, 'settle', request, request.now);
      if (local.result.outcome !== 'unknown') out = local;
    }
    this.events.settled?.(out.result.outcome, out.lagSeconds);
    return out.result;
  }

  async release(reservationId: string, now: number): Promise<SettleResult['outcome']> {
    const outcome = (await this.#run(reservationId, 'release', { usage: undefined, failed: true }, now)).result.outcome;
    if (this.fallback === undefined || (outcome !== 'unknown' && outcome !== 'error')) return outcome;
    const local = this.fallback.run(reservationId, 'release', { usage: undefined, failed: true }, now).result.outcome;
    return local === 'unknown' ? outcome : local;
  }

  async #run(id: string, mode: 'settle' | 'release', request: Pick<SettleRequest, 'usage' | 'failed'>, now: number): Promise<{ result: SettleResult; lagSeconds?: number }> {
    const decoded = decodeReservationId(id);
    if (decoded === undefined) return { result: result('unknown') };
    const recordKey = `${this.prefix}{${decoded.tagBody}}:rsv:${decoded.member}`;
    try {
      const raw = await within(this.client.hget(recordKey, 'd'), SETTLE_TIMEOUT_MS);
      if (raw === null) return { result: result('unknown') };
      const record = JSON.parse(raw) as ReservationRecord;
      const charged = chargeFor(record, request);
      const lines = settleLines(record, charged, now);
      const keys = [recordKey];
      const args = [decoded.member, mode, String(lines.length), String(record.leases.length)];
      lines.forEach((line, i) => {
        keys.push(line.usedKey, line.reservedKey, `${record.lines[i]![0]}:z`);
        args.push(String(line.amount), String(line.slice), String(line.usedTtlMs));
      });
      keys.push(...record.leases);
      // A script that reached Redis and answers after the timeout still settles once (idempotent);
      // this call then reports `error` and the caller may retry safely.
      const reply = await within(this.#command(keys.length)(...keys, ...args), SETTLE_TIMEOUT_MS);
      const code = Number(reply[0]);
      if (code === 2) return { result: result('unknown') };
      if (code === 1) return { result: result('already_settled') };
      return { result: result('settled', mode === 'settle' ? charged : undefined), lagSeconds: Math.max(0, now - record.admittedAt) / 1000 };
    } catch {
      return { result: result('error') };
    }
  }

  #command(keys: number): SettleCommand {
    const name = `modelgateSettle${keys}`;
    const commands = this.client as unknown as Record<string, SettleCommand | undefined>;
    if (commands[name] === undefined) this.client.defineCommand(name, { lua: SETTLE_LUA, numberOfKeys: keys });
    return commands[name]!.bind(this.client);
  }
}

export class MemorySettler implements BudgetSettler {
  constructor(
    private readonly ledger: MemoryLedger,
    private readonly prefix: string,
    private readonly events: BudgetEvents = {},
  ) {}

  settle(request: SettleRequest): Promise<SettleResult> {
    const out = this.run(request.reservationId, 'settle', request, request.now);
    this.events.settled?.(out.result.outcome, out.lagSeconds);
    return Promise.resolve(out.result);
  }

  release(reservationId: string, now: number): Promise<SettleResult['outcome']> {
    return Promise.resolve(this.run(reservationId, 'release', { usage: undefined, failed: true }, now).result.outcome);
  }

  run(id: string, mode: 'settle' | 'release', request: Pick<SettleRequest, 'usage' | 'failed'>, now: number): { result: SettleResult; lagSeconds?: number } {
    const decoded = decodeReservationId(id);
    if (decoded === undefined) return { result: result('unknown') };
    const recordKey = `${this.prefix}{${decoded.tagBody}}:rsv:${decoded.member}`;
    const stored = this.ledger.record(recordKey, now);
    if (stored === undefined) return { result: result('unknown') };
    const charged = chargeFor(stored.record, request);
    const lines = settleLines(stored.record, charged, now);
    const { outcome } = this.ledger.settle(recordKey, decoded.member, lines, stored.record.leases, mode, now);
    if (outcome !== 'settled') return { result: result(outcome) };
    return { result: result('settled', mode === 'settle' ? charged : undefined), lagSeconds: Math.max(0, now - stored.record.admittedAt) / 1000 };
  }
}
