// The shape of one check's admission (budget lines and leases) and of its verdict: shared by the
// Lua script (admit-script.ts), the memory ledger, the planner and the report.

import type { Estimate } from './estimate.js';
import type { PeriodSpec } from './periods.js';

export type Level = 'subject' | 'team' | 'org';
export type Unit = 'tokens' | 'input_tokens' | 'output_tokens' | 'money';

/** One budget of one entity (a subject, team or org) charged by this check. */
export interface LedgerLine {
  readonly budgetId: string;
  readonly level: Level;
  readonly unit: Unit;
  readonly limit: number;
  readonly shadow: boolean;
  readonly failMode: 'fail_open' | 'fail_closed';
  readonly spec: PeriodSpec;
  /** `<root tag>:bg:<budget id>:<level>:<entity>`; the keys below extend it. */
  readonly base: string;
  /** The period instance's counter (calendar) or the slices hash (rolling). */
  readonly usedKey: string;
  /** Hash: `_sum` = reserved total, one field per open reservation with its amount. */
  readonly reservedKey: string;
  /** Sorted set of open reservations by expiry (epoch ms). */
  readonly expiryKey: string;
  /** Rolling: the current slice index; calendar: -1. */
  readonly slice: number;
  readonly usedTtlMs: number;
  /** When the used counter next drops: the period's end, or the current slice's end (rolling). */
  readonly resetMs: number;
  /** The estimate in this line's unit. */
  readonly amount: number;
}

/** One concurrency limit: a sorted set of in-flight reservation ids scored by their expiry. */
export interface LeaseLine {
  readonly leaseId: string;
  readonly key: string;
  readonly max: number;
  readonly shadow: boolean;
  readonly failMode: 'fail_open' | 'fail_closed';
}

/** What a reservation record keeps so settlement needs nothing but the id (JSON in Redis). */
export interface ReservationRecord {
  readonly v: 1;
  readonly model: string;
  /** Prices in micro-units per million tokens: input, output, cached input. */
  readonly price: readonly [number, number, number];
  /** Estimated input and output tokens. */
  readonly estimate: readonly [number, number];
  readonly admittedAt: number;
  /** Per line: base key, unit, reserved amount, period code (periods.ts encodePeriod), budget id, level. */
  readonly lines: ReadonlyArray<readonly [string, Unit, number, string, string, Level]>;
  readonly leases: readonly string[];
}

export interface Admission {
  readonly reservationId: string;
  /** The id's random part: the member in every hash and sorted set of this reservation. */
  readonly member: string;
  readonly recordKey: string;
  readonly expiresAt: number;
  readonly recordTtlMs: number;
  readonly record: ReservationRecord;
  readonly lines: readonly LedgerLine[];
  readonly leases: readonly LeaseLine[];
  readonly estimate: Estimate;
  readonly microUnits: number;
  readonly nowMs: number;
}

/**
 * The ledger's answer, from Lua or memory. Allowed: every line's used and reserved after this
 * reservation. Refused: the first enforced line (or lease) that did not fit.
 */
export type AdmissionVerdict =
  | { readonly ok: true; readonly expired: number; readonly used: readonly number[]; readonly reserved: readonly number[] }
  | { readonly ok: false; readonly expired: number; readonly kind: 'budget'; readonly index: number; readonly used: number; readonly reserved: number; readonly oldest: number }
  | { readonly ok: false; readonly expired: number; readonly kind: 'lease'; readonly index: number; readonly count: number; readonly oldest: number };

/** Keep a reservation record this long past its expiry, so a late settlement still charges once. */
export const RECORD_GRACE_MS = 3_600_000;
/**
 * A settled record is kept this long, then forgotten: long enough to answer a repeated settlement
 * `already_settled`, short enough that stored records follow the requests in flight rather than an
 * hour of traffic (at 1,000 requests/s, an hour of settled records would be 3.6 million entries).
 */
export const SETTLED_KEEP_MS = 300_000;
/** Expired reservations swept per line per admission at most (the rest go at the next one: strict side). */
export const SWEEP_MAX = 256;

/** Decodes the admission part of a script reply, which starts at `at`. */
export function parseAdmissionReply(reply: readonly unknown[], at: number, status: number): AdmissionVerdict {
  const n = (i: number): number => Number(reply[at + i]);
  const expired = n(0);
  if (status === 3) return { ok: false, expired, kind: 'budget', index: n(1) - 1, used: n(2), reserved: n(3), oldest: n(4) };
  if (status === 4) return { ok: false, expired, kind: 'lease', index: n(1) - 1, count: n(2), oldest: n(3) };
  const lines = n(1);
  const used: number[] = [];
  const reserved: number[] = [];
  for (let i = 0; i < lines; i++) {
    used.push(n(2 + i * 2));
    reserved.push(n(3 + i * 2));
  }
  return { ok: true, expired, used, reserved };
}
