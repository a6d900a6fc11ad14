#!/usr/bin/env node
// The `modelgate` command line: one subcommand module per task, registered here.

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

// src/cli and dist/cli both sit two levels under the package root.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('modelgate')
  .description('Envoy external authorization for ML model APIs')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError();

registerCommands(program);

// `modelgate check --json | head`: a reader that stops early is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`modelgate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});
