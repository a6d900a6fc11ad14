// One test helpers folder: under test/unit and test/integration there are only *.test.ts files;
// whatever tests share (servers, fixtures, clients, child-process scripts) lives in test/helpers,
// which never reaches back into a test folder.

import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWithin, localImports, ROOT, tsFiles } from '../../helpers/imports.js';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('test helpers', () => {
  it('test/unit and test/integration hold only test files', () => {
    const strays = ['unit', 'integration'].flatMap((d) => files(join(ROOT, 'test', d))).filter((f) => !f.endsWith('.test.ts'));
    expect(strays.map((f) => relative(ROOT, f)), 'helpers outside test/helpers').toEqual([]);
  });

  it('test/helpers imports no test file and nothing under test/unit or test/integration', () => {
    const bad = tsFiles(join(ROOT, 'test', 'helpers')).flatMap((file) =>
      localImports(file)
        .filter((i) => i.target.endsWith('.test.js') || i.target.endsWith('.test.ts') || ['unit', 'integration'].some((d) => isWithin(i.target, join(ROOT, 'test', d))))
        .map((i) => `${relative(ROOT, file)}: ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });
});
