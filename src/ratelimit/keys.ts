// Storage key names. Every key of one subject carries the hash tag `{subject}`, so all keys a
// check touches land in one Redis Cluster slot and one Lua script can update them atomically.

/** Characters that would break the hash tag, our `:` separators, or a SCAN pattern. */
const SPECIAL = /[%{}:*?[\]\\]/g;
/** The same class without `g`, so `test` keeps no lastIndex between calls. */
const HAS_SPECIAL = /[%{}:*?[\]\\]/;

/** Percent-escapes the special characters so distinct subjects and models never share a key. */
export function escapeKeyPart(part: string): string {
  if (!HAS_SPECIAL.test(part)) return part;
  return part.replace(SPECIAL, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function subjectTag(prefix: string, subject: string): string {
  return `${prefix}{${escapeKeyPart(subject)}}`;
}

export interface SubjectKeys {
  /** Epoch ms until which the subject is blocked. */
  readonly block: string;
  /** Number of blocks so far (drives the exponential growth); forgotten after a quiet period. */
  readonly strikes: string;
  /** Denials in the current violation window. */
  readonly violations: string;
}

export function subjectKeys(prefix: string, subject: string): SubjectKeys {
  const tag = subjectTag(prefix, subject);
  return { block: `${tag}:block`, strikes: `${tag}:strikes`, violations: `${tag}:violations` };
}

export function bucketKey(prefix: string, subject: string, bucketId: string, model?: string): string {
  const base = `${subjectTag(prefix, subject)}:b:${bucketId}`;
  return model === undefined ? base : `${base}:${escapeKeyPart(model)}`;
}

/** SCAN MATCH pattern for every key of one subject (the CLI's show and reset). */
export function subjectPattern(prefix: string, subject: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}{${escapeKeyPart(subject)}}:*`;
}

/** Splits a bucket key back into bucket id and (escaped) model, for display. */
export function parseBucketKey(prefix: string, subject: string, key: string): { bucketId: string; model?: string } | undefined {
  const head = `${subjectTag(prefix, subject)}:b:`;
  if (!key.startsWith(head)) return undefined;
  const [bucketId = '', model] = key.slice(head.length).split(':', 2);
  return model === undefined ? { bucketId } : { bucketId, model: decodeURIComponent(model) };
}

/** One subject's key strings, built on first use. */
export interface SubjectKeyEntry {
  readonly keys: SubjectKeys;
  /** Per bucket (by index): its key, or for a per-model bucket a map from model to key. */
  readonly buckets: Array<string | Map<string, string> | undefined>;
}

/**
 * Remembers the key strings of recent subjects so a check neither escapes nor concatenates them
 * again, and hands the store the same string objects each time (V8 keeps a string's hash on it).
 * Keys are a pure function of (prefix, subject, bucket, model), so a cached key is always the key
 * that would be built. Bounded by the number of strings held; emptied when full.
 */
export class KeyCache {
  readonly #subjects = new Map<string, SubjectKeyEntry>();
  #strings = 0;

  constructor(
    private readonly prefix: string,
    private readonly maxStrings = 50_000,
  ) {}

  subject(subject: string): SubjectKeyEntry {
    let entry = this.#subjects.get(subject);
    if (entry === undefined) {
      this.#reserve(3);
      entry = { keys: subjectKeys(this.prefix, subject), buckets: [] };
      this.#subjects.set(subject, entry);
    }
    return entry;
  }

  bucket(entry: SubjectKeyEntry, subject: string, index: number, bucketId: string, model: string | undefined): string {
    const slot = entry.buckets[index];
    if (model === undefined) {
      if (typeof slot === 'string') return slot;
      const key = bucketKey(this.prefix, subject, bucketId);
      this.#reserve(1);
      entry.buckets[index] = key;
      return key;
    }
    const byModel = slot instanceof Map ? slot : undefined;
    const cached = byModel?.get(model);
    if (cached !== undefined) return cached;
    const key = bucketKey(this.prefix, subject, bucketId, model);
    // If this emptied the cache, `entry` is detached: caching into it is harmless, it dies with the check.
    this.#reserve(1);
    if (byModel) byModel.set(model, key);
    else entry.buckets[index] = new Map([[model, key]]);
    return key;
  }

  /** Counts `n` more strings, emptying the cache first when they would not fit. */
  #reserve(n: number): void {
    if (this.#strings + n > this.maxStrings) {
      this.#subjects.clear();
      this.#strings = 0;
    }
    this.#strings += n;
  }
}
