// A bounded table of short strings made from protobuf bytes, for the CheckRequest decoder (decode-wire.ts).
//
// Most short strings repeat from one request to the next (header names, 'POST', 'application/json'),
// and making a string from bytes is the decoder's largest cost: a fixed-size table keyed by a hash of the
// bytes returns the string already made when the bytes match exactly. Bounded memory; adversarial bytes
// can only cause misses. Keys are stored internalized, so using them as property names skips a lookup.

export type Utf8Buffer = Buffer & { utf8Slice(start: number, end: number): string };

const SLOTS = 1024;

/**
 * Strings of up to `width` bytes, each slot holding a string and the bytes it was made from. Two ways
 * per hash, the least recently used one replaced: a few dozen hot strings in a direct-mapped table
 * would often collide, and two hot strings on one slot would evict each other on every request.
 */
export class StringCache {
  private readonly strings = new Array<string>(SLOTS).fill('');
  private readonly lengths = new Int32Array(SLOTS);
  /** The bytes each string was made from, four to a word, zero-padded. */
  private readonly words: Int32Array;
  private readonly stride: number;
  /** Per pair of slots, the one used last. */
  private readonly recent = new Int32Array(SLOTS / 2);

  constructor(readonly width: number, private readonly internalize: boolean) {
    this.stride = width >>> 2;
    this.words = new Int32Array(SLOTS * this.stride);
  }

  get(buf: Utf8Buffer, start: number, end: number): string {
    const length = end - start;
    if (length === 0) return '';
    // A few bytes from each end pick the slots; the full comparison is what decides.
    const last = end - 1;
    let hash = Math.imul(length ^ (buf[start]! << 8) ^ (buf[last]! << 16) ^ (buf[start + (length >>> 1)]! << 24), 0x9e3779b1);
    hash = Math.imul(hash ^ buf[last - (length >>> 2)]! ^ (buf[start + (length >>> 2)]! << 8), 0x85ebca6b);
    const pair = (hash ^ (hash >>> 16)) & (SLOTS - 2);
    for (let slot = pair; slot <= pair + 1; slot++) {
      if (this.holds(slot, buf, start, end)) {
        this.recent[pair >>> 1] = slot;
        return this.strings[slot]!;
      }
    }
    const slot = this.recent[pair >>> 1] === pair ? pair + 1 : pair;
    this.recent[pair >>> 1] = slot;
    let s = buf.utf8Slice(start, end);
    if (this.internalize) s = Object.keys({ [s]: 0 })[0]!;
    for (let p = start, w = slot * this.stride; p < end; p += 4, w++) this.words[w] = wordAt(buf, p, end);
    this.lengths[slot] = length;
    this.strings[slot] = s;
    return s;
  }

  private holds(slot: number, buf: Uint8Array, start: number, end: number): boolean {
    if (this.lengths[slot] !== end - start) return false;
    const words = this.words;
    for (let p = start, w = slot * this.stride; p < end; p += 4, w++) if (words[w] !== wordAt(buf, p, end)) return false;
    return true;
  }
}

function wordAt(buf: Uint8Array, p: number, end: number): number {
  if (end - p >= 4) return buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
  let word = 0;
  for (let shift = 0; p < end; p++, shift += 8) word |= buf[p]! << shift;
  return word;
}
