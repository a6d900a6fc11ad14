// Loading the server must leave String.prototype in V8's fast mode. A dependency that subclasses
// String (ioredis 6 does, for RESP3 verbatim strings) turns it into a dictionary, after which every
// `charCodeAt` in the process (pino's escaping, protobuf strings, our path and response codecs)
// runs 3-5x slower: the Check path lost about a third of its throughput to one `import`.

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STRING_SUBCLASS, stringPrototypeAfter } from '../../helpers/string-prototype.js';

function probe(prelude: string): string {
  const modules = ['src/main.ts', 'src/ratelimit/redis-connection.ts', 'src/cli/commands/serve.ts'].map((m) => JSON.stringify(resolve(m)));
  return stringPrototypeAfter([prelude, ...modules.map((m) => `await import(${m});`)]);
}

describe("the server's module graph", () => {
  it('keeps String.prototype fast', () => {
    expect(probe('')).toBe('fast');
  });

  it('the probe sees a String subclass (so the check above can fail)', () => {
    expect(probe(STRING_SUBCLASS)).toBe('slow');
  });
});
