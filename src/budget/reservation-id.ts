// Reservation ids: `<base64url of the root hash tag body>.<22 random base64url chars>`, ≤ 128 chars,
// URL-safe. The tag lets settlement find the reservation's keys (one slot) from the id alone.

import { randomFillSync } from 'node:crypto';

const MEMBER = /^[A-Za-z0-9_-]{22}$/;

/** 16 random bytes per id, drawn from a pool refilled 256 ids at a time: one CSPRNG call per 256 checks. */
const POOL = Buffer.alloc(16 * 256);
let poolAt = POOL.length;

/** A fresh random member: 128 bits from the CSPRNG, base64url (22 chars). */
export function newMember(): string {
  if (poolAt === POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const member = POOL.toString('base64url', poolAt, poolAt + 16);
  poolAt += 16;
  return member;
}
const TAG = /^[A-Za-z0-9_-]{1,104}$/;

export function encodeReservationId(tagBody: string, member: string): string {
  return `${Buffer.from(tagBody, 'utf8').toString('base64url')}.${member}`;
}

/** The tag body and member, or undefined for anything we did not make. */
export function decodeReservationId(id: string): { tagBody: string; member: string } | undefined {
  if (id.length > 128) return undefined;
  const dot = id.indexOf('.');
  if (dot < 0) return undefined;
  const tag = id.slice(0, dot);
  const member = id.slice(dot + 1);
  if (!TAG.test(tag) || !MEMBER.test(member)) return undefined;
  const tagBody = Buffer.from(tag, 'base64url').toString('utf8');
  // Tag bodies never contain braces (escapeKeyPart); one that does was not made here.
  if (tagBody === '' || /[{}]/.test(tagBody)) return undefined;
  return { tagBody, member };
}
