// bench/ never imports from test/: a test helper may grow test-only behaviour (fault hooks, fake
// clocks) that a benchmark would then measure. Every import, static or dynamic, of every .ts file
// under bench/ is resolved and must land outside test/.

import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWithin, localImports, ROOT, tsFiles } from '../../helpers/imports.js';

const TEST = join(ROOT, 'test');
const testImports = (file: string, source?: string): string[] => localImports(file, source).filter((i) => isWithin(i.target, TEST)).map((i) => i.spec);

describe('bench/ imports', () => {
  it('sees a test import, relative or absolute, static or dynamic (the check can fail)', () => {
    const file = join(ROOT, 'bench', 'micro', 'x.ts');
    const source = [
      "import { startRedis } from '../../test/helpers/redis.js';",
      `import '${join(TEST, 'helpers', 'pki.js')}';`,
      "const jwt = await import('../../test/helpers/jwt.js');",
      "export { gate } from '../../test/helpers/gate.js';",
      "import { freePort } from '../procs.js';",
      "import ts from 'typescript';",
      "import { x } from '../../testing/y.js';",
    ].join('\n');
    expect(testImports(file, source).sort()).toEqual(['../../test/helpers/gate.js', '../../test/helpers/jwt.js', '../../test/helpers/redis.js', join(TEST, 'helpers', 'pki.js')].sort());
  });

  it('no file under bench/ imports from test/', () => {
    const files = tsFiles(join(ROOT, 'bench'));
    expect(files.length).toBeGreaterThan(5);
    const offenders = files.flatMap((file) => testImports(file).map((spec) => `${relative(ROOT, file)}: ${spec}`));
    expect(offenders).toEqual([]);
  });
});
