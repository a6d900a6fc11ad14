// `modelgate serve`: runs the server until SIGTERM/SIGINT, reloads on SIGHUP.

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('serve', { isDefault: true })
    .description('serve ext_authz (without --config: the example config with generated dev keys)')
    .option('-c, --config <file>', 'config file (env MODELGATE_CONFIG)')
    .option('-a, --address <host:port>', 'gRPC listen address (env MODELGATE_GRPC_ADDRESS)')
    .action(async (opts: { config?: string; address?: string }) => {
      const { startModelgate } = await import('../../main.js');
      const { ConfigError } = await import('../../config/problems.js');
      let configFile = opts.config ?? process.env.MODELGATE_CONFIG;
      if (!configFile) {
        const dev = await import('../dev-assets.js');
        const report = await dev.ensureDevAssets();
        configFile = dev.EXAMPLE_CONFIG;
        if (report.newApiKey) {
          process.stderr.write(
            `\nGenerated a dev API key for subject svc:reporting-bot (shown once, stored only as a hash):\n  ${report.newApiKey}\n\n`,
          );
        }
      }
      let gate;
      try {
        gate = await startModelgate({ configFile, grpcAddress: opts.address });
      } catch (error) {
        if (error instanceof ConfigError) {
          process.stderr.write(`${error.message}\n`);
          process.exit(1);
        }
        throw error;
      }
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        gate.logger.info({ signal }, 'shutting down: no new checks, finishing in-flight ones');
        gate.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => void gate.reload());
    });
}
