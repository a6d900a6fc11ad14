// Reads OpenAI-style usage out of a text/event-stream response as its chunks arrive, in bounded memory.

import { StringDecoder } from 'node:string_decoder';
import type { Usage } from './settler.js';
import { usageOfJson } from './usage.js';

/**
 * Chunk boundaries follow TCP, not events: a line (even a UTF-8 character) may be split across
 * chunks, so the unfinished line and the current event's data are carried over. Both are bounded
 * by `maxBytes`; past it the reader gives up for good (`overflowed`), since a stream that far off
 * the OpenAI shape is not one whose usage should be believed. Lines end with LF or CRLF.
 */
export class SseUsageReader {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private data: string[] = [];
  private dataLength = 0;
  private found: Usage | undefined;
  private done = false;
  private overflow = false;

  constructor(private readonly maxBytes: number) {}

  /** The usage of the last event that carried one (OpenAI: the chunk before `data: [DONE]`). */
  get usage(): Usage | undefined {
    return this.overflow ? undefined : this.found;
  }

  get overflowed(): boolean {
    return this.overflow;
  }

  push(chunk: Buffer): void {
    if (this.done || this.overflow) return;
    const text = this.partial + this.decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(text.slice(start, end));
      start = nl + 1;
      if (this.done || this.overflow) return;
    }
    this.partial = text.slice(start);
    if (this.partial.length > this.maxBytes) this.giveUp();
  }

  /** The stream ended: a last event without its blank line still counts. */
  end(): void {
    if (this.done || this.overflow) return;
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.line(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
    this.dispatch();
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (!line.startsWith('data:')) return; // event:, id:, retry:, comments: nothing about usage
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    this.dataLength += value.length + 1;
    if (this.dataLength > this.maxBytes) return this.giveUp();
    this.data.push(value);
  }

  private dispatch(): void {
    if (this.data.length === 0) return;
    const data = this.data.length === 1 ? this.data[0]! : this.data.join('\n');
    this.data = [];
    this.dataLength = 0;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    // Only chunks that mention usage are parsed: the many content deltas cost a substring search.
    if (!data.includes('"usage"')) return;
    const usage = usageOfJson(data);
    if (usage) this.found = usage;
  }

  private giveUp(): void {
    this.overflow = true;
    this.partial = '';
    this.data = [];
  }
}
