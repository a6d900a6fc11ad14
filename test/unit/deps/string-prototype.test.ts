// Loading the server must leave String.prototype in V8's fast mode. A dependency that subclasses
// String (ioredis 6 does, for RESP3 verbatim strings) turns it into a dictionary, after which every
// `charCodeAt` in the process (pino's escaping, protobuf strings, our path and response codecs)
// runs 3-5x slower: the Check path lost about a third of its throughput to one `import`.

import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

function probe(prelude: string): string {
  const modules = ['src/main.ts', 'src/ratelimit/redis-connection.ts', 'src/cli/commands/serve.ts'].map((m) => JSON.stringify(resolve(m)));
  const script = [
    // Function() compiles with natives syntax when the flag is on; the test file itself needs none.
    "const fast = new Function('return %HasFastProperties(String.prototype)');",
    "if (!fast()) { console.log('slow at start'); process.exit(0); }",
    prelude,
    ...modules.map((m) => `await import(${m});`),
    "console.log(fast() ? 'fast' : 'slow');",
    'process.exit(0);',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.trim().split('\n').at(-1)!;
}

describe("the server's module graph", () => {
  it('keeps String.prototype fast', () => {
    expect(probe('')).toBe('fast');
  });

  it('the probe sees a String subclass (so the check above can fail)', () => {
    expect(probe('class Verbatim extends String {}; globalThis.keep = Verbatim;')).toBe('slow');
  });
});
