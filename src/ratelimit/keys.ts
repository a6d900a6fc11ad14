// Storage key names. Every key of one subject carries the hash tag `{subject}`, so all keys a
// check touches land in one Redis Cluster slot and one Lua script can update them atomically.

/** Characters that would break the hash tag, our `:` separators, or a SCAN pattern. */
const SPECIAL = /[%{}:*?[\]\\]/g;

/** Percent-escapes the special characters so distinct subjects and models never share a key. */
export function escapeKeyPart(part: string): string {
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
