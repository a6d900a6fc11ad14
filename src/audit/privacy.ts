// Decides what personal data may enter a record: IPs and kept fields become keyed hashes unless configured plain.

import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PrivacyConfig } from './config.js';

export interface Privacy {
  /** The downstream IP as it may be stored: hashed, plain, or undefined when dropped. */
  address(ip: string): string | undefined;
  /** Picks the configured fields out of `source` (header names are matched lower-case). */
  kept(source: Readonly<Record<string, unknown>>): Record<string, string>;
  /** The path as it may be stored (query dropped unless `keep_query`). */
  path(rawPath: string): string;
}

export type PrivacyResult = { ok: true; privacy: Privacy } | { ok: false; error: string };

function needsKey(config: PrivacyConfig): boolean {
  return config.remote_address === 'hash' || config.keep.some((k) => k.mode === 'hash');
}

/** Loads the HMAC key (file first, then env) only when something is configured to be hashed. */
export async function loadPrivacy(config: PrivacyConfig, env: NodeJS.ProcessEnv = process.env): Promise<PrivacyResult> {
  if (!needsKey(config)) return { ok: true, privacy: makePrivacy(config, undefined) };
  let key: Buffer | undefined;
  if (config.hash_key_file) {
    try {
      key = Buffer.from((await readFile(config.hash_key_file, 'utf8')).trim(), 'utf8');
    } catch (error) {
      return { ok: false, error: `audit.privacy.hash_key_file: ${(error as Error).message}` };
    }
  } else if (env[config.hash_key_env]) {
    key = Buffer.from(env[config.hash_key_env]!.trim(), 'utf8');
  }
  if (!key || key.length < 16) {
    return {
      ok: false,
      error: `audit.privacy: a hash key of at least 16 bytes is required (set ${config.hash_key_env} or hash_key_file), or configure remote_address and keep[].mode to 'plain'/'drop'`,
    };
  }
  return { ok: true, privacy: makePrivacy(config, key) };
}

export function makePrivacy(config: PrivacyConfig, key: Buffer | undefined): Privacy {
  const hash = (value: string): string => {
    if (!key) throw new Error('privacy: hashing configured without a key'); // loadPrivacy prevents this
    return `hmac-sha256:${createHmac('sha256', key).update(value).digest('hex')}`;
  };
  const keep = config.keep.map((k) => ({ name: k.name.toLowerCase(), mode: k.mode }));
  return {
    address(ip) {
      if (ip === '' || config.remote_address === 'drop') return undefined;
      return config.remote_address === 'plain' ? ip : hash(ip);
    },
    kept(source) {
      const out: Record<string, string> = {};
      const lower = new Map(Object.entries(source).map(([k, v]) => [k.toLowerCase(), v]));
      for (const { name, mode } of keep) {
        const value = lower.get(name);
        if (value === undefined || value === null || value === '' || value === '-') continue;
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        out[name] = mode === 'plain' ? text : hash(text);
      }
      return out;
    },
    path(rawPath) {
      if (config.keep_query) return rawPath;
      const q = rawPath.indexOf('?');
      return q === -1 ? rawPath : rawPath.slice(0, q);
    },
  };
}
