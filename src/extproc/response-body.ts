// What modelgate keeps of one response body: its SHA-256 as the model server sent it, and its usage.

import { createHash, type Hash } from 'node:crypto';
import type { Usage } from './settler.js';
import { SseUsageReader } from './sse.js';
import { usageOfJson } from './usage.js';

export type BodyKind = 'json' | 'sse' | 'other';

/** `application/json`, `application/problem+json` → json; `text/event-stream` → sse. */
export function bodyKindOf(contentType: string): BodyKind {
  const type = contentType.split(';', 1)[0]!.trim();
  if (type === 'text/event-stream') return 'sse';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  return 'other';
}

/**
 * Fed every chunk before any transformer sees it, so the hash is of the model's own output. A JSON
 * body is kept up to `maxBytes` to be parsed once at the end; an SSE stream is read as it goes.
 */
export class ResponseBody {
  private readonly hash: Hash = createHash('sha256');
  private readonly sse: SseUsageReader | undefined;
  private json: Buffer[] | undefined;
  private jsonBytes = 0;
  private overflow = false;

  constructor(readonly kind: BodyKind, private readonly maxBytes: number) {
    if (kind === 'sse') this.sse = new SseUsageReader(maxBytes);
    if (kind === 'json') this.json = [];
  }

  push(chunk: Buffer): void {
    this.hash.update(chunk);
    if (this.json) {
      this.jsonBytes += chunk.length;
      if (this.jsonBytes > this.maxBytes) {
        this.json = undefined;
        this.overflow = true;
      } else if (chunk.length > 0) this.json.push(chunk);
    }
    this.sse?.push(chunk);
  }

  /** Once, at the end of the body. */
  finish(): { sha256: string; usage: Usage | undefined; source: 'body' | 'sse' | undefined; overflowed: boolean } {
    const sha256 = this.hash.digest('hex');
    if (this.sse) {
      this.sse.end();
      const usage = this.sse.usage;
      return { sha256, usage, source: usage ? 'sse' : undefined, overflowed: this.sse.overflowed };
    }
    if (this.json) {
      const usage = usageOfJson(Buffer.concat(this.json).toString('utf8'));
      this.json = undefined;
      return { sha256, usage, source: usage ? 'body' : undefined, overflowed: false };
    }
    return { sha256, usage: undefined, source: undefined, overflowed: this.overflow };
  }
}
