// Masks a text/event-stream response event by event: the SSE framing stays, each `data:` JSON stays
// valid, and an event is sent on as soon as it is complete (minus the held tail of streamed text).

import { StringDecoder } from 'node:string_decoder';
import type { BodyTransformer } from '../../extproc/transform.js';
import { ChoiceStreams } from './choice-streams.js';
import { maskString, type Counts, type Matcher } from './matcher.js';
import { SseEvents } from './sse-events.js';
import { withheldEvent } from './withheld.js';

const EMPTY = Buffer.alloc(0);

export interface SseMaskerOptions {
  readonly matcher: Matcher;
  readonly maxEventChars: number;
}

export function sseMasker(options: SseMaskerOptions): BodyTransformer {
  const { matcher, maxEventChars } = options;
  const counts: Counts = {};
  const decoder = new StringDecoder('utf8');
  const events = new SseEvents();
  const choices = new ChoiceStreams(matcher, counts);
  let failed = false;

  const fail = (): string => {
    // Fail closed: an event too big to hold is never passed on unmasked, and nothing after it is.
    failed = true;
    counts.stream_withheld = 1;
    return withheldEvent('masking_event_too_large', 'an event is too large to mask');
  };

  const onEvent = (lines: readonly string[], complete: boolean): string => {
    if (lines.reduce((n, line) => n + line.length + 1, 0) > maxEventChars) return fail();
    // An unterminated last event is one a client would drop; it is still masked, never passed raw.
    const tail = complete ? '\n\n' : '\n';
    const dataAt = lines.findIndex(isData);
    if (dataAt < 0) return lines.map((line) => maskString(matcher, line, counts)).join('\n') + tail;
    const data = lines.filter(isData).map(dataValue).join('\n');
    if (data.trim() === '[DONE]') return choices.flushAll() + lines.join('\n') + tail;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return lines.map((line) => maskString(matcher, line, counts)).join('\n') + tail;
    }
    const masked = choices.maskEvent(parsed, !complete);
    if (masked === undefined) return lines.join('\n') + tail;
    // The data lines become one (JSON.stringify never writes a newline) where the first one was.
    const out: string[] = [];
    lines.forEach((line, i) => {
      if (i === dataAt) out.push(`data: ${JSON.stringify(masked)}`);
      else if (!isData(line)) out.push(maskString(matcher, line, counts));
    });
    return out.join('\n') + tail;
  };

  return {
    counts,
    push(chunk, end) {
      if (failed) return EMPTY;
      let out = '';
      events.feed(decoder.write(chunk) + (end ? decoder.end() : ''), end, (lines, complete) => {
        if (failed) return;
        // Held tails come before an unterminated last event, in stream order.
        if (!complete) out += choices.flushAll();
        out += onEvent(lines, complete);
      });
      if (!failed && events.pendingChars > maxEventChars) out += fail();
      if (end && !failed) out += choices.flushAll();
      return out === '' ? EMPTY : Buffer.from(out, 'utf8');
    },
  };
}

const isData = (line: string): boolean => line.startsWith('data:');
/** The field value: after `data:` and one optional space (the SSE rule). */
const dataValue = (line: string): string => line.slice(line.startsWith('data: ') ? 6 : 5);
