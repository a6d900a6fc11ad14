// Calendar periods in UTC (weeks start on Monday, months have their own lengths) and rolling
// windows of fixed slices that release a charge late by up to one slice, never early.

import { describe, expect, it } from 'vitest';
import { calendarInstance, counterAt, decodePeriod, encodePeriod, periodSpec } from '../../../src/budget/periods.js';

const at = (iso: string) => Date.parse(iso);

describe('periods', () => {
  it('months start on the 1st, 00:00 UTC, whatever their length (leap February included)', () => {
    expect(calendarInstance('month', at('2028-02-29T23:59:59.999Z'))).toEqual({ start: at('2028-02-01T00:00:00Z'), end: at('2028-03-01T00:00:00Z') });
    expect(calendarInstance('month', at('2026-12-31T23:59:59.999Z'))).toEqual({ start: at('2026-12-01T00:00:00Z'), end: at('2027-01-01T00:00:00Z') });
    expect(calendarInstance('month', at('2027-01-01T00:00:00Z')).start).toBe(at('2027-01-01T00:00:00Z'));
  });

  it('weeks start on Monday 00:00 UTC', () => {
    // 2026-11-30 is a Monday; the Sunday before belongs to the previous week.
    expect(calendarInstance('week', at('2026-11-30T00:00:00Z'))).toEqual({ start: at('2026-11-30T00:00:00Z'), end: at('2026-12-07T00:00:00Z') });
    expect(calendarInstance('week', at('2026-11-29T23:59:59Z')).start).toBe(at('2026-11-23T00:00:00Z'));
    expect(calendarInstance('week', at('1970-01-01T00:00:00Z')).start).toBe(at('1969-12-29T00:00:00Z'));
  });

  it('minutes, hours and days align to UTC', () => {
    expect(calendarInstance('day', at('2026-11-28T23:00:00Z'))).toEqual({ start: at('2026-11-28T00:00:00Z'), end: at('2026-11-29T00:00:00Z') });
    expect(calendarInstance('hour', at('2026-11-28T23:30:00Z')).start).toBe(at('2026-11-28T23:00:00Z'));
    expect(calendarInstance('minute', at('2026-11-28T23:30:30Z')).end).toBe(at('2026-11-28T23:31:00Z'));
  });

  it('a calendar counter is keyed by its instance start and outlives the period by a day', () => {
    const now = at('2026-11-28T12:00:00Z');
    expect(counterAt({ kind: 'calendar', period: 'day' }, now)).toEqual({ suffix: `u:${at('2026-11-28T00:00:00Z')}`, slice: -1, ttlMs: 12 * 3_600_000 + 86_400_000, resetMs: at('2026-11-29T00:00:00Z') });
  });

  it('a rolling window sums the current slice and `slices` before it: a charge leaves between W and W + slice later', () => {
    const spec = periodSpec({ rolling: '1h', slices: 60 });
    expect(spec).toEqual({ kind: 'rolling', windowMs: 3_600_000, slices: 60, sliceMs: 60_000 });
    const chargedAt = at('2026-11-28T12:00:30Z');
    const slice = counterAt(spec, chargedAt).slice;
    const stillSummed = (t: number) => slice >= counterAt(spec, t).slice - 60;
    // Never early: still counted a full window after the charge...
    expect(stillSummed(chargedAt + 3_600_000)).toBe(true);
    // ...and late by less than one slice: gone one window plus one slice after its slice began.
    expect(stillSummed(at('2026-11-28T13:00:59.999Z'))).toBe(true);
    expect(stillSummed(at('2026-11-28T13:01:00Z'))).toBe(false);
  });

  it('a window that does not divide into whole-ms slices rounds the slice up (never early)', () => {
    expect(periodSpec({ rolling: '1s', slices: 7 })).toMatchObject({ sliceMs: 143 });
  });

  it('encodes the period for the reservation record and decodes it back', () => {
    for (const spec of [periodSpec({ period: 'week', slices: 60 }), periodSpec({ rolling: '24h', slices: 48 })]) expect(decodePeriod(encodePeriod(spec))).toEqual(spec);
    expect(decodePeriod('fortnight')).toBeUndefined();
  });
});
