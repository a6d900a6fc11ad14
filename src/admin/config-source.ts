// Reads the config once for both parsing and hashing (so the hash is of the exact bytes in
// service), and lists the files a config depends on, for the reload watcher.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError } from '../config/problems.js';

export interface ConfigSource {
  readonly loaded: LoadedConfig;
  /** sha256 (hex) of the config file's bytes. */
  readonly sha256: string;
}

/** Like loadConfig, plus the hash; throws ConfigError with every problem. */
export function loadConfigWithHash(file: string, env: NodeJS.ProcessEnv): ConfigSource {
  let bytes: Buffer;
  try {
    bytes = readFileSync(resolve(file));
  } catch (error) {
    throw new ConfigError(file, [`${file}: cannot read file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  const loaded = parseConfig(bytes.toString('utf8'), file, env);
  return { loaded, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Absolute paths whose change should trigger a reload: the config itself and the identity files
 * it reads at build time. TLS material is bound to the listening socket and needs a restart.
 */
export function referencedFiles(configFile: string, loaded: LoadedConfig | undefined): string[] {
  const files = new Set([resolve(configFile)]);
  if (loaded) {
    const at = (f: string | undefined) => f && files.add(resolve(loaded.baseDir, f));
    const id = loaded.config.identity;
    for (const issuer of id.jwt?.issuers ?? []) at(issuer.jwks_file);
    at(id.api_keys?.keys_file);
    at(id.api_keys?.secret_file);
  }
  return [...files];
}
