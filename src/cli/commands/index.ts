// Every subcommand module, in help order. Command modules import their heavy dependencies
// lazily inside the action, so `modelgate --help` stays fast.

import type { Command } from 'commander';

type Register = (program: Command) => void;

const commands: Register[] = [
];

export function registerCommands(program: Command): void {
  for (const register of commands) register(program);
}
