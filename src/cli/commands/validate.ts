// `modelgate validate FILE`: every problem in a config, with file, line and key path; exit 1 if any.
// On success, every effective setting with where it came from (file, default, env var).

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a config file, list every problem, and show where each effective setting came from')
    .argument('<file>', 'config file')
    .action(async (file: string) => {
      const { loadConfigWithHash } = await import('../../admin/config-source.js');
      const { describeSettings } = await import('../../config/env.js');
      const { ConfigError } = await import('../../config/problems.js');
      const { buildStages } = await import('../../app/build-stages.js');
      const { unlimited } = await import('../../ratelimit/limiter.js');
      try {
        const { loaded, sha256 } = loadConfigWithHash(file, process.env);
        const built = buildStages(loaded, { env: process.env, now: Date.now, limiter: unlimited });
        if (!built.ok) throw new ConfigError(file, built.problems.map(loaded.describe));
        process.stdout.write(`${file}: OK (${loaded.config.policy.rules.length} rules, sha256 ${sha256})\n`);
        for (const line of describeSettings(loaded.config, loaded.sources, process.env)) process.stdout.write(`  ${line}\n`);
        const { plaintextExposures } = await import('../../app/exposure.js');
        for (const exposed of plaintextExposures(loaded.config.server)) {
          process.stderr.write(`${exposed.acknowledged ? 'note' : 'SECURITY WARNING'}: ${exposed.message}\n`);
        }
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        const { salvagedPolicyProblems } = await import('../../app/salvage-policy.js');
        const { parseLocatedYaml } = await import('../../config/load.js');
        const { readFileSync } = await import('node:fs');
        const lines = [...error.lines];
        // A schema error stops the load; the policy checks still run over the rules that parse.
        try {
          const { raw, describe } = parseLocatedYaml(readFileSync(file, 'utf8'), file);
          for (const line of salvagedPolicyProblems(raw).map(describe)) if (!lines.includes(line)) lines.push(line);
        } catch {
          // Unreadable or not YAML: the error above already says so.
        }
        process.stderr.write(`${lines.join('\n')}\n`);
        process.exitCode = 1;
      }
    });
}
