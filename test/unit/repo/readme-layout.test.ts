// README.md's "Repository layout" block against the tree: every folder of src/ and every top-level
// folder (not hidden, not in .gitignore) is named in the block, and every path the block names, and
// every file it lists on a src/ folder's line, exists. A moved or new folder fails here until the
// README says where it went.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/imports.js';

/** The fenced block under `## Repository layout`. */
function layoutBlock(readme: string): string {
  const section = readme.split(/^## Repository layout\s*$/m)[1];
  const block = section?.match(/^```[^\n]*\n([\s\S]*?)^```/m)?.[1];
  if (block === undefined) throw new Error('README.md has no fenced block under "## Repository layout"');
  return block;
}

/** Every path-like token of the block (one with a `/`), e.g. `src/config/`, `bin/modelgate.js`. */
function namedPaths(block: string): string[] {
  return [...block.matchAll(/(?<![\w./-])((?:[A-Za-z][\w.-]*\/)+[\w.-]*)/g)].map((m) => m[1]!);
}

const folders = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();

/** Top-level folders .gitignore leaves out (`node_modules/`, `test-artifacts/`): not the repository's. */
function ignoredTopLevel(): Set<string> {
  const lines = readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n');
  return new Set(lines.map((l) => l.trim()).filter((l) => /^\/?[\w.-]+\/$/.test(l)).map((l) => l.replace(/^\/|\/$/g, '')));
}

const block = layoutBlock(readFileSync(join(ROOT, 'README.md'), 'utf8'));
const paths = namedPaths(block);

describe('README.md "Repository layout"', () => {
  it('names every folder under src/', () => {
    const missing = folders(join(ROOT, 'src')).filter((d) => !paths.some((p) => p.startsWith(`src/${d}/`)));
    expect(missing.map((d) => `src/${d}/`), 'src/ folders the README layout block does not name').toEqual([]);
  });

  it('names every top-level folder of the repository', () => {
    const ignored = ignoredTopLevel();
    const missing = folders(ROOT).filter((d) => !ignored.has(d) && !paths.some((p) => p.startsWith(`${d}/`)));
    expect(missing.map((d) => `${d}/`), 'top-level folders the README layout block does not name').toEqual([]);
  });

  it('names only paths that exist', () => {
    const stale = paths.filter((p) => !existsSync(join(ROOT, p)));
    expect(stale, 'paths in the README layout block that are not in the tree').toEqual([]);
  });

  it("lists only files that exist on a src/ folder's line", () => {
    const stale = block.split('\n').flatMap((line) => {
      const folder = /^(src\/[\w.-]+\/)\s/.exec(line)?.[1];
      if (!folder) return [];
      const files = [...line.slice(folder.length).matchAll(/(?<![\w./-])([\w-]+\.ts)\b/g)].map((m) => m[1]!);
      return files.filter((f) => !existsSync(join(ROOT, folder, f))).map((f) => `${folder}${f}`);
    });
    expect(stale, 'files named in the README layout block that are not in their folder').toEqual([]);
  });

  it('reads the block it checks (the parser finds the entries it must)', () => {
    expect(paths).toEqual(expect.arrayContaining(['src/main.ts', 'src/config/', 'test/unit', 'deploy/']));
    expect(namedPaths('src/a/  x, (bin/b.js) and test/unit, test/helpers')).toEqual(['src/a/', 'bin/b.js', 'test/unit', 'test/helpers']);
  });
});
