// Every subcommand module, in help order. Command modules import their heavy dependencies
// lazily inside the action, so `modelgate --help` stays fast.

import type { Command } from 'commander';
import { register as serve } from './serve.js';
import { register as validate } from './validate.js';
import { register as check } from './check.js';
import { register as token } from './token.js';
import { register as keys } from './keys.js';
import { register as limits } from './limits.js';
import { register as budgets } from './budgets.js';
import { register as approvals } from './approvals.js';
import { register as audit } from './audit.js';
import { register as test } from './test.js';
import { register as explain } from './explain.js';

type Register = (program: Command) => void;

const commands: Register[] = [
  serve,
  validate,
  check,
  token,
  keys,
  limits,
  budgets,
  approvals,
  audit,
  test,
  explain,
];

export function registerCommands(program: Command): void {
  for (const register of commands) register(program);
}
