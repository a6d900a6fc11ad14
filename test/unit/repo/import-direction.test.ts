// The import graph of src/, read from each file's import lines: check/ holds the types every stage
// shares, so no arrow runs from a stage back up into pipeline/, and no two files import each other
// (directly or around a loop). A type-only cycle compiles, but it is the tangle this test prevents.

import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../../src');
/** The stages and transports the pipeline composes (or that are composed around it). */
const STAGES = ['check', 'identity', 'policy', 'ratelimit', 'decision', 'grpc', 'http'];

interface Import {
  readonly to: string;
  readonly typeOnly: boolean;
}

/** Relative imports of one file: `from '…'`, `import '…'`, `import('…')` (type queries too). */
function importsOf(text: string, file: string): Import[] {
  const out: Import[] = [];
  const re = /(\bimport\s+type\b[^'";]*?\bfrom\s*|\bexport\s+type\b[^'";]*?\bfrom\s*|\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\2/gm;
  for (const m of text.matchAll(re)) {
    const to = posix.normalize(posix.join(posix.dirname(file), m[3]!)).replace(/\.js$/, '.ts');
    out.push({ to, typeOnly: /^\s*(import|export)\s+type\b/.test(m[1]!) || m[1]!.startsWith('import(') });
  }
  return out;
}

function sourceGraph(): Map<string, Import[]> {
  const graph = new Map<string, Import[]>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const file = relative(SRC, path).split('\\').join('/');
        graph.set(file, importsOf(readFileSync(path, 'utf8'), file));
      }
    }
  };
  walk(SRC);
  return graph;
}

const folderOf = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

/** `from → to` lines where a file in one of `folders` imports a file under `target/`. */
function importsInto(graph: Map<string, Import[]>, folders: readonly string[], target: string): string[] {
  const out: string[] = [];
  for (const [file, imports] of graph) {
    if (!folders.includes(folderOf(file))) continue;
    for (const i of imports) if (folderOf(i.to) === target) out.push(`${file} → ${i.to}`);
  }
  return out;
}

/** Every loop of files (strongly connected group of more than one file, or a file importing itself). */
function cycles(graph: Map<string, Import[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    const targets = (graph.get(v) ?? []).map((i) => i.to).filter((t) => graph.has(t));
    for (const w of targets) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || targets.includes(v)) found.push(group.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

const graph = sourceGraph();

describe('import direction in src/', () => {
  it('reads the tree (the pipeline and the shared check types are where this test expects)', () => {
    expect(graph.has('pipeline/check.ts')).toBe(true);
    expect(graph.has('check/check-input.ts')).toBe(true);
    expect(graph.get('pipeline/check.ts')!.map((i) => i.to)).toContain('check/check-input.ts');
  });

  it('no stage or transport imports pipeline/: shared types come from check/', () => {
    expect(importsInto(graph, STAGES, 'pipeline')).toEqual([]);
  });

  it('no folder the pipeline imports imports the pipeline back', () => {
    const used = new Set([...graph].filter(([f]) => folderOf(f) === 'pipeline').flatMap(([, imports]) => imports.map((i) => folderOf(i.to))));
    used.delete('pipeline');
    expect(importsInto(graph, [...used], 'pipeline')).toEqual([]);
  });

  it('check/ holds types and tiny helpers: outside check/ it imports types only', () => {
    const runtime = [...graph]
      .filter(([f]) => folderOf(f) === 'check')
      .flatMap(([file, imports]) => imports.filter((i) => folderOf(i.to) !== 'check' && !i.typeOnly).map((i) => `${file} → ${i.to}`));
    expect(runtime).toEqual([]);
  });

  it('no import cycle between files', () => {
    expect(cycles(graph)).toEqual([]);
  });
});

describe('the checker itself', () => {
  const fake = (files: Record<string, string>) => new Map(Object.entries(files).map(([f, text]) => [f, importsOf(text, f)]));

  it('finds a stage importing pipeline/, a cycle through a type import, and a runtime import out of check/', () => {
    const g = fake({
      'pipeline/check.ts': "import type { X } from '../identity/jwt.js';\nimport {\n  y,\n} from '../check/body.js';",
      'identity/jwt.ts': "import type { CheckInput } from '../pipeline/check.js';",
      'check/body.ts': "import { z } from '../policy/names.js';\nexport type { W } from '../decision/reasons.js';",
      'policy/a.ts': "import type { B } from './b.js';",
      'policy/b.ts': "export function b(): import('./a.js').A { return 1; }",
      'policy/names.ts': '',
      'decision/reasons.ts': '',
    });
    expect(importsInto(g, STAGES, 'pipeline')).toEqual(['identity/jwt.ts → pipeline/check.ts']);
    expect(cycles(g)).toEqual([['identity/jwt.ts', 'pipeline/check.ts'], ['policy/a.ts', 'policy/b.ts']]);
    expect(g.get('check/body.ts')).toEqual([
      { to: 'policy/names.ts', typeOnly: false },
      { to: 'decision/reasons.ts', typeOnly: true },
    ]);
  });
});
