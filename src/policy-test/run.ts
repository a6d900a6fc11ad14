// Runs policy test files against the real pipeline and reports like a test runner.

import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import { compare, type Mismatch } from './compare.js';
import { createHarness, type HarnessRun } from './harness.js';
import { readTestFile } from './test-file.js';

export interface CaseResult {
  readonly name: string;
  readonly mismatches: readonly Mismatch[];
  readonly run?: HarnessRun;
  /** The case could not run (bad request spec); counted as a failure. */
  readonly error?: string;
}

export interface FileResult {
  readonly file: string;
  readonly configFile?: string;
  /** The file or its config could not be loaded: every problem, counted as one failure. */
  readonly problems?: readonly string[];
  readonly cases: readonly CaseResult[];
}

/** `*.test.yaml` files under each path (a file is taken as is), sorted for stable output. */
export function findTestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) {
      for (const entry of readdirSync(p).sort()) {
        if (entry === 'node_modules' || entry.startsWith('.')) continue;
        const child = join(p, entry);
        if (statSync(child).isDirectory()) walk(child);
        else if (entry.endsWith('.test.yaml') || entry.endsWith('.test.yml')) out.push(child);
      }
    } else {
      out.push(p);
    }
  };
  for (const p of paths) walk(p);
  return out;
}

export async function runTestFile(file: string): Promise<FileResult> {
  const parsed = readTestFile(file);
  if (!parsed.ok) return { file, problems: parsed.problems, cases: [] };
  const { test, configFile } = parsed;
  let loaded;
  try {
    // An empty env: results depend on the files only, never on the shell that runs the tests.
    loaded = loadConfig(relative(process.cwd(), configFile), {});
  } catch (error) {
    if (error instanceof ConfigError) return { file, configFile, problems: error.lines, cases: [] };
    throw error;
  }
  const harness = await createHarness(loaded, { nowMs: Date.parse(test.now), apiKeys: test.api_keys });
  if ('problems' in harness) return { file, configFile, problems: harness.problems, cases: [] };
  const cases: CaseResult[] = [];
  try {
    for (const [index, c] of test.cases.entries()) {
      if (c.now) harness.setNow(Date.parse(c.now));
      try {
        let run: HarnessRun | undefined;
        for (let i = 0; i < c.repeat; i++) {
          const input = await harness.input(c.request, `policy-test-${index}-${i}`);
          run = await harness.run(input, c.request);
        }
        cases.push({ name: c.name, mismatches: compare(c.expect, run!), run });
      } catch (error) {
        cases.push({ name: c.name, mismatches: [], error: (error as Error).message });
      }
    }
  } finally {
    await harness.close();
  }
  return { file, configFile, cases };
}

export interface Summary {
  readonly passed: number;
  readonly failed: number;
}

export function summarize(results: readonly FileResult[]): Summary {
  let passed = 0;
  let failed = 0;
  for (const r of results) {
    if (r.problems) failed++;
    for (const c of r.cases) {
      if (c.error || c.mismatches.length > 0) failed++;
      else passed++;
    }
  }
  return { passed, failed };
}
