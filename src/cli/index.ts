#!/usr/bin/env node
// The `modelgate` command line: one subcommand module per task, registered here.

import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

const program = new Command('modelgate')
  .description('Envoy external authorization for ML model APIs')
  .showHelpAfterError();

registerCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`modelgate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});
