// Test-runner output for policy tests: ✓/✗ per case, expected-vs-actual for every mismatch, and
// enough of the actual answer (reason, rule, trace) to see why without running `explain`.

import { relative } from 'node:path';
import type { FileResult, Summary } from './run.js';
import type { HarnessRun } from './harness.js';

export function formatFileResult(result: FileResult, cwd = process.cwd()): string {
  const lines: string[] = [];
  const name = relative(cwd, result.file) || result.file;
  lines.push(result.configFile ? `${name}  (config ${relative(cwd, result.configFile)})` : name);
  if (result.problems) {
    lines.push('  ✗ cannot run this file:');
    for (const p of result.problems) lines.push(`      ${p}`);
  }
  for (const c of result.cases) {
    if (!c.error && c.mismatches.length === 0) {
      lines.push(`  ✓ ${c.name}`);
      continue;
    }
    lines.push(`  ✗ ${c.name}`);
    if (c.error) lines.push(`      error: ${c.error}`);
    const width = Math.max(0, ...c.mismatches.map((m) => m.field.length));
    for (const m of c.mismatches) {
      lines.push(`      ${m.field.padEnd(width)}  expected: ${m.expected}`);
      lines.push(`      ${' '.repeat(width)}  actual:   ${m.actual}`);
    }
    if (c.run) lines.push(...actualSummary(c.run).map((l) => `      ${l}`));
  }
  return lines.join('\n');
}

function actualSummary(run: HarnessRun): string[] {
  const d = run.decision;
  const who = d.identity ? `${d.identity.subject} (${d.identity.method}; roles ${d.identity.roles.join(',') || '-'})` : 'nobody';
  const out = [
    `got: ${d.allowed ? 'ALLOW' : 'DENY'} ${run.answer.httpStatus} ${d.reason}${d.ruleId ? ` by ${d.ruleId}` : ''} · caller ${who} · model ${d.model ?? '-'} · action ${d.action ?? '-'}`,
  ];
  if (d.detail) out.push(`detail: ${d.detail}`);
  if (run.trace.rules.length > 0) out.push(`rules: ${run.trace.rules.map((r) => `${r.id}=${r.outcome}`).join(', ')}`);
  return out;
}

export function formatSummary(summary: Summary): string {
  return `${summary.passed} passed, ${summary.failed} failed`;
}
