// The one line a failed start prints, single-process or from any worker of `serve --workers N`.

import { ConfigError } from '../config/problems.js';
import { ListenError } from './listen-error.js';

/** The config problems, or the address that could not be bound, or the error's message. */
export function startFailureLine(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof ListenError) return `modelgate: ${error.message}`;
  return `modelgate: cannot start: ${error instanceof Error ? error.message : String(error)}`;
}
