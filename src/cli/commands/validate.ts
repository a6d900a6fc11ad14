// `modelgate validate FILE`: every problem in a config, with file, line and key path; exit 1 if any.
// On success, every effective setting with where it came from (file, default, env var).

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a config file, list every problem, and show where each effective setting came from')
    .argument('<file>', 'config file')
    .action(async (file: string) => {
      const { loadStages } = await import('../../app/load-stages.js');
      const { describeSettings } = await import('../../config/env.js');
      const { unlimited } = await import('../../ratelimit/limiter.js');
      // The same loader as serve: a schema error does not hide the policy problems of the rules that parse.
      const result = loadStages(file, { env: process.env, now: Date.now, limiter: unlimited });
      // The OTEL_* environment serve would start with, judged the same way (serve refuses to start on it).
      const { tracingSettings } = await import('../../tracing/settings.js');
      const tracing = tracingSettings(process.env);
      const tracingProblems = tracing.ok ? [] : tracing.problems.map((p) => `environment: ${p}`);
      if (!result.ok || tracingProblems.length > 0) {
        process.stderr.write(`${[...(result.ok ? [] : result.error.lines), ...tracingProblems].join('\n')}\n`);
        process.exitCode = 1;
        return;
      }
      const { loaded } = result;
      process.stdout.write(`${file}: OK (${loaded.config.policy.rules.length} rules, sha256 ${loaded.sha256})\n`);
      for (const line of describeSettings(loaded.config, loaded.sources, process.env)) process.stdout.write(`  ${line}\n`);
      const { plaintextExposures } = await import('../../app/exposure.js');
      for (const exposed of plaintextExposures(loaded.config.server)) {
        process.stderr.write(`${exposed.acknowledged ? 'note' : 'SECURITY WARNING'}: ${exposed.message}\n`);
      }
    });
}
