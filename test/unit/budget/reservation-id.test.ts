// Reservation ids carry the root hash tag (so settlement finds the keys) and nothing we did not make decodes.

import { describe, expect, it } from 'vitest';
import { decodeReservationId, encodeReservationId } from '../../../src/budget/reservation-id.js';

describe('reservation ids', () => {
  it('round-trip the tag body and member, URL-safe and at most 128 characters', () => {
    const member = 'A'.repeat(22);
    const id = encodeReservationId(`org:${'x'.repeat(71)}`, member);
    expect(id.length).toBeLessThanOrEqual(128);
    expect(id).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(decodeReservationId(id)).toEqual({ tagBody: `org:${'x'.repeat(71)}`, member });
  });

  it('refuses ids it did not make', () => {
    for (const bad of ['', 'abc', '.AAAAAAAAAAAAAAAAAAAAAA', 'YQ.short', `${Buffer.from('a}b').toString('base64url')}.${'A'.repeat(22)}`, 'x'.repeat(129)]) {
      expect(decodeReservationId(bad)).toBeUndefined();
    }
  });
});
