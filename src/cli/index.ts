#!/usr/bin/env node
// The `modelgate` command line: one subcommand module per task, registered here.

import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

/**
 * The version of the modelgate package this file belongs to: the nearest package.json above it
 * named modelgate (src/cli and dist/cli sit two levels under the root, but a build may land
 * deeper, as the benchmark's bench/results/dist does).
 */
function packageVersion(): string {
  for (let up = '../../'; up.length <= 3 * 6; up += '../') {
    const file = new URL(`${up}package.json`, import.meta.url);
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'modelgate' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

const version = packageVersion();

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
