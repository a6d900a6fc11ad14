// The API keys file (identity.api_keys.keys_file): the one reader, for the server's identity build
// and for the policy tests, which hash the same keys with a test secret.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { apiKeysFileSchema, type ApiKeyConfig } from './schema.js';
import type { ConfigProblem } from './problems.js';

export type KeysFileRead = { readonly ok: true; readonly keys: ApiKeyConfig[] } | { readonly ok: false; readonly problems: ConfigProblem[] };

/** Reads `file` (relative to the config's directory); every problem is reported at identity.api_keys.keys_file. */
export function readKeysFile(file: string, baseDir: string): KeysFileRead {
  const path = ['identity', 'api_keys', 'keys_file'];
  try {
    const parsed = apiKeysFileSchema.safeParse(parseYaml(readFileSync(resolve(baseDir, file), 'utf8')) ?? {});
    if (parsed.success) return { ok: true, keys: parsed.data.keys };
    return { ok: false, problems: parsed.error.issues.map((issue) => ({ path, message: `${file}: ${issue.path.join('.')}: ${issue.message}` })) };
  } catch (error) {
    return { ok: false, problems: [{ path, message: `cannot read ${file}: ${(error as Error).message}` }] };
  }
}
