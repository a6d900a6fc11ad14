// The config sections a reload cannot apply: what start-up builds once and keeps (listeners, the
// limiter and budget ledger with their Redis, the approvals store, the audit store). A reload that
// changes one still applies the rest; the log says which changes wait for a restart.

import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';

const RESTART_ONLY = ['server', 'limits', 'budgets', 'approvals', 'audit'] as const satisfies ReadonlyArray<keyof Config>;

export type RestartOnlySection = (typeof RESTART_ONLY)[number];

/** The restart-only sections that differ between the serving config and the reloaded one. */
export function restartOnlyChanges(serving: Config, reloaded: Config): RestartOnlySection[] {
  return RESTART_ONLY.filter((section) => !isDeepStrictEqual(serving[section], reloaded[section]));
}
