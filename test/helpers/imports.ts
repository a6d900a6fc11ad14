// Reads the import graph of the repository's own TypeScript files, for the tests that hold its
// folder rules (bench/ never imports test/, test helpers live in test/helpers).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import ts from 'typescript';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Every .ts file under `dir`, skipping node_modules and generated results. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'results' || e.name === 'node_modules' ? [] : tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

export interface LocalImport {
  /** As written: `../../test/helpers/redis.js`. */
  readonly spec: string;
  /** Absolute path it resolves to (still with its `.js` extension). */
  readonly target: string;
}

/** The relative and absolute imports of one file, static and dynamic, re-exports included. */
export function localImports(file: string, source = readFileSync(file, 'utf8')): LocalImport[] {
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.') || isAbsolute(spec))
    .map((spec) => ({ spec, target: resolve(dirname(file), spec) }));
}

/** Whether `path` is `dir` or inside it. */
export const isWithin = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);
