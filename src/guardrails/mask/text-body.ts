// Masks a plain-text response (text/*, NDJSON) as one streamed text: sent as it arrives, minus the
// held tail. UTF-8 sequences split between chunks are joined before masking.

import { StringDecoder } from 'node:string_decoder';
import type { BodyTransformer } from '../../extproc/transform.js';
import type { Counts, Matcher } from './matcher.js';
import { MaskedTextStream } from './text-stream.js';

export function textMasker(matcher: Matcher): BodyTransformer {
  const counts: Counts = {};
  const decoder = new StringDecoder('utf8');
  const stream = new MaskedTextStream(matcher, counts);
  return {
    counts,
    push(chunk, end) {
      const text = stream.push(decoder.write(chunk) + (end ? decoder.end() : ''), end);
      return Buffer.from(text, 'utf8');
    },
  };
}
