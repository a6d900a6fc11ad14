// `modelgate validate FILE`: every problem in a config, with file, line and key path; exit 1 if any.

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a config file and list every problem')
    .argument('<file>', 'config file')
    .action(async (file: string) => {
      const { loadConfig } = await import('../../config/load.js');
      const { ConfigError } = await import('../../config/problems.js');
      const { buildStages } = await import('../../app/build-stages.js');
      const { unlimited } = await import('../../ratelimit/limiter.js');
      try {
        const loaded = loadConfig(file);
        const built = buildStages(loaded, { env: process.env, now: Date.now, limiter: unlimited });
        if (!built.ok) throw new ConfigError(file, built.problems.map(loaded.describe));
        process.stdout.write(`${file}: OK (${loaded.config.policy.rules.length} rules)\n`);
        for (const [key, source] of loaded.sources) process.stdout.write(`  ${key}: ${source}\n`);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        process.stderr.write(`${error.lines.join('\n')}\n`);
        process.exitCode = 1;
      }
    });
}
