// `modelgate test DIR...`: runs `*.test.yaml` policy tests against the real pipeline; exit 1 on failure.

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('test')
    .description('run policy tests (*.test.yaml) against the real pipeline with a fixed clock; exit 1 if any fails')
    .argument('<paths...>', 'test files or directories searched for *.test.yaml')
    .action(async (paths: string[]) => {
      const { findTestFiles, runTestFile, summarize } = await import('../../policy-test/run.js');
      const { formatFileResult, formatSummary } = await import('../../policy-test/report.js');
      const files = findTestFiles(paths);
      if (files.length === 0) {
        process.stderr.write(`no *.test.yaml files under ${paths.join(', ')}\n`);
        process.exitCode = 1;
        return;
      }
      const results = [];
      for (const file of files) {
        const result = await runTestFile(file);
        results.push(result);
        process.stdout.write(`${formatFileResult(result)}\n\n`);
      }
      const summary = summarize(results);
      process.stdout.write(`${formatSummary(summary)}\n`);
      process.exitCode = summary.failed > 0 ? 1 : 0;
    });
}
