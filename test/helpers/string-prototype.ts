// Whether String.prototype is still in V8's fast mode after `body` (ES module lines) ran in a fresh
// Node process: 'fast', 'slow', or 'slow at start'. A dependency that subclasses String (ioredis 6
// does) turns it into a dictionary, and every charCodeAt in the process runs 3-5x slower.

import { spawnSync } from 'node:child_process';

export function stringPrototypeAfter(body: readonly string[]): string {
  const script = [
    // Function() compiles with natives syntax when the flag is on; the test files themselves need none.
    "const fast = new Function('return %HasFastProperties(String.prototype)');",
    "if (!fast()) { console.log('slow at start'); process.exit(0); }",
    ...body,
    "console.log(fast() ? 'fast' : 'slow');",
    'process.exit(0);',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.trim().split('\n').at(-1)!;
}

/** A String subclass, as ioredis 6 defines one: the probes' counter-test (their check can fail). */
export const STRING_SUBCLASS = 'class Verbatim extends String {}; globalThis.keep = Verbatim;';
