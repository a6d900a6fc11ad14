// The audit side of one serving process: the store it writes (or the cluster primary's, through
// IPC) and the privacy settings its access-log receiver applies.

import type { Logger } from 'pino';
import { loadPrivacy, type Privacy } from '../audit/privacy.js';
import { openAuditRuntime } from '../audit/runtime.js';
import type { AuditSink } from '../audit/sink.js';
import type { LoadedConfig } from '../config/load.js';
import { ConfigError } from '../config/problems.js';

export interface OpenedAudit {
  readonly store: AuditSink;
  readonly privacy: Privacy;
  close(): Promise<void>;
}

/** Needs `loaded.config.audit`. A store has exactly one writer: with `elsewhere`, this process opens none. */
export async function openAudit(loaded: LoadedConfig, logger: Logger, elsewhere: AuditSink | undefined, env: NodeJS.ProcessEnv): Promise<OpenedAudit> {
  if (elsewhere) {
    // The store is the primary's; this process only needs the privacy settings (the hash key).
    const privacy = await loadPrivacy(loaded.config.audit!.privacy, env);
    if (!privacy.ok) throw new ConfigError(loaded.file, [`${loaded.file}: audit: ${privacy.error}`]);
    return { store: elsewhere, privacy: privacy.privacy, close: async () => undefined };
  }
  const opened = await openAuditRuntime(loaded.config.audit!, logger, Date.now, env);
  if (!opened.ok) throw new ConfigError(loaded.file, [`${loaded.file}: audit: ${opened.error}`]);
  return opened.runtime;
}
