// Storage key names. Every key of one subject carries the hash tag `{subject}`, so all keys a
// check touches land in one Redis Cluster slot and one Lua script can update them atomically.
// With team or org budgets (docs/budgets.md) the check's root is the org or team: its keys carry
// the root's tag (`{org:acme}`) with the subject inside the key body (`{org:acme}:s:<subject>:…`).

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

/** Where a subject's keys start: `prefix{subject}`, or `prefix{root}:s:<subject>` under a budget root tag. */
export function subjectBase(prefix: string, subject: string, rootTag?: string): string {
  return rootTag === undefined ? subjectTag(prefix, subject) : `${rootTag}:s:${escapeKeyPart(subject)}`;
}

export function subjectKeys(prefix: string, subject: string, rootTag?: string): SubjectKeys {
  const tag = subjectBase(prefix, subject, rootTag);
  return { block: `${tag}:block`, strikes: `${tag}:strikes`, violations: `${tag}:violations` };
}

export function bucketKey(prefix: string, subject: string, bucketId: string, model?: string, rootTag?: string): string {
  const base = `${subjectBase(prefix, subject, rootTag)}:b:${bucketId}`;
  return model === undefined ? base : `${base}:${escapeKeyPart(model)}`;
}

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** SCAN MATCH pattern for every key of one subject (the CLI's show and reset). */
export function subjectPattern(prefix: string, subject: string): string {
  return `${escapeGlob(prefix)}{${escapeKeyPart(subject)}}:*`;
}

/** SCAN MATCH pattern for a subject's keys under any budget root tag (`{org:…}:s:<subject>:…`). */
export function subjectUnderRootPattern(prefix: string, subject: string): string {
  return `${escapeGlob(prefix)}{*}:s:${escapeGlob(escapeKeyPart(subject))}:*`;
}

/** The key's subject base (`prefix{subject}` or `prefix{root}:s:<subject>`), when it is one of this subject's keys. */
export function baseOf(prefix: string, subject: string, key: string): string | undefined {
  const own = subjectTag(prefix, subject);
  if (key.startsWith(`${own}:`)) return own;
  const close = key.indexOf('}', prefix.length);
  if (!key.startsWith(`${prefix}{`) || close < 0) return undefined;
  const base = `${key.slice(0, close + 1)}:s:${escapeKeyPart(subject)}`;
  return key.startsWith(`${base}:`) ? base : undefined;
}

/** Splits a bucket key back into bucket id and (escaped) model, for display. */
export function parseBucketKey(prefix: string, subject: string, key: string): { bucketId: string; model?: string } | undefined {
  const base = baseOf(prefix, subject, key);
  const head = `${base}:b:`;
  if (base === undefined || !key.startsWith(head)) return undefined;
  const [bucketId = '', model] = key.slice(head.length).split(':', 2);
  return model === undefined ? { bucketId } : { bucketId, model: decodeURIComponent(model) };
}

/** One subject's key strings, built on first use. */
export interface SubjectKeyEntry {
  readonly keys: SubjectKeys;
  /** Per bucket (by index): its key, or for a per-model bucket a map from model to key. */
  readonly buckets: Array<string | Map<string, string> | undefined>;
  readonly rootTag?: string | undefined;
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

  /** `rootTag`: the budget root's tag when it is not the subject (compile.ts); undefined keeps `{subject}`. */
  subject(subject: string, rootTag?: string): SubjectKeyEntry {
    const cacheKey = rootTag === undefined ? subject : `${rootTag}\n${subject}`;
    let entry = this.#subjects.get(cacheKey);
    if (entry === undefined) {
      this.#reserve(3);
      entry = { keys: subjectKeys(this.prefix, subject, rootTag), buckets: [], rootTag };
      this.#subjects.set(cacheKey, entry);
    }
    return entry;
  }

  bucket(entry: SubjectKeyEntry, subject: string, index: number, bucketId: string, model: string | undefined): string {
    const slot = entry.buckets[index];
    if (model === undefined) {
      if (typeof slot === 'string') return slot;
      const key = bucketKey(this.prefix, subject, bucketId, undefined, entry.rootTag);
      this.#reserve(1);
      entry.buckets[index] = key;
      return key;
    }
    const byModel = slot instanceof Map ? slot : undefined;
    const cached = byModel?.get(model);
    if (cached !== undefined) return cached;
    const key = bucketKey(this.prefix, subject, bucketId, model, entry.rootTag);
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
