// Budget periods: calendar instances in UTC (weeks start on Monday) and rolling windows of fixed slices.

import { durationMs, type BudgetConfig } from './config.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Counters outlive their period this long, so `budgets show` can still read the one just ended. */
export const USED_GRACE_MS = DAY;

export type PeriodSpec =
  | { readonly kind: 'calendar'; readonly period: 'minute' | 'hour' | 'day' | 'week' | 'month' }
  | { readonly kind: 'rolling'; readonly windowMs: number; readonly slices: number; readonly sliceMs: number };

export function periodSpec(b: Pick<BudgetConfig, 'period' | 'rolling' | 'slices'>): PeriodSpec {
  if (b.period !== undefined) return { kind: 'calendar', period: b.period };
  const windowMs = durationMs(b.rolling ?? '') ?? DAY;
  // Slices are whole milliseconds; rounding up makes the summed window at most `slices` ms longer.
  return { kind: 'rolling', windowMs, slices: b.slices, sliceMs: Math.ceil(windowMs / b.slices) };
}

/** The calendar instance holding `nowMs`: [start, end) in epoch ms. */
export function calendarInstance(period: 'minute' | 'hour' | 'day' | 'week' | 'month', nowMs: number): { start: number; end: number } {
  switch (period) {
    case 'minute':
      return aligned(nowMs, MINUTE);
    case 'hour':
      return aligned(nowMs, HOUR);
    case 'day':
      return aligned(nowMs, DAY);
    case 'week': {
      // 1970-01-01 was a Thursday: day d is (d + 3) mod 7 days after a Monday.
      const day = Math.floor(nowMs / DAY);
      const start = (day - (((day + 3) % 7) + 7) % 7) * DAY;
      return { start, end: start + 7 * DAY };
    }
    case 'month': {
      const d = new Date(nowMs);
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth();
      return { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
    }
  }
}

function aligned(nowMs: number, size: number): { start: number; end: number } {
  const start = Math.floor(nowMs / size) * size;
  return { start, end: start + size };
}

/**
 * Where a charge at `nowMs` is counted and how long that counter lives.
 * Calendar: the instance's own key suffix (its start). Rolling: the slice index within one hash.
 * A rolling sum covers the current slice and the `slices` before it, so a charge leaves the window
 * between `windowMs` and `windowMs + sliceMs` after it was made: late by up to a slice, never early.
 */
export function counterAt(spec: PeriodSpec, nowMs: number): { suffix: string; slice: number; ttlMs: number; resetMs: number } {
  if (spec.kind === 'calendar') {
    const { start, end } = calendarInstance(spec.period, nowMs);
    return { suffix: `u:${start}`, slice: -1, ttlMs: end - nowMs + USED_GRACE_MS, resetMs: end };
  }
  const slice = Math.floor(nowMs / spec.sliceMs);
  return { suffix: 'w', slice, ttlMs: (spec.slices + 2) * spec.sliceMs, resetMs: (slice + 1) * spec.sliceMs };
}

/** The oldest slice index still summed at slice `current`. */
export const oldestSlice = (spec: { slices: number }, current: number): number => current - spec.slices;

/** Compact text form stored in a reservation record, so settlement needs no config lookup. */
export function encodePeriod(spec: PeriodSpec): string {
  return spec.kind === 'calendar' ? spec.period : `r${spec.windowMs}/${spec.slices}/${spec.sliceMs}`;
}

export function decodePeriod(text: string): PeriodSpec | undefined {
  if (text === 'minute' || text === 'hour' || text === 'day' || text === 'week' || text === 'month') return { kind: 'calendar', period: text };
  const m = /^r(\d+)\/(\d+)\/(\d+)$/.exec(text);
  if (m === null) return undefined;
  return { kind: 'rolling', windowMs: Number(m[1]), slices: Number(m[2]), sliceMs: Number(m[3]) };
}
