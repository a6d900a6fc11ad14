// Reads the YAML config file, applies environment overrides, validates it strictly and freezes it.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { ConfigError, formatKeyPath, type ConfigProblem, type KeyPath } from './problems.js';
import { applyEnvOverrides, type SettingSource } from './env.js';
import { keptCredentialProblems } from './credential-headers.js';
import { plainMessage } from './plain-words.js';

export interface LoadedConfig {
  readonly file: string;
  /** Directory that relative paths in the config (JWKS files, keys) are resolved against. */
  readonly baseDir: string;
  readonly config: Config;
  /** sha256 (hex) of the exact bytes parsed: the policy version /readyz, metrics and logs name. */
  readonly sha256: string;
  /** Where each overridable setting came from, for `modelgate validate`. */
  readonly sources: ReadonlyMap<string, SettingSource>;
  /** `file:line: key.path: message` for problems found after the schema (policy compile, keys). */
  readonly describe: (problem: ConfigProblem) => string;
}

/**
 * The one config reader (server, reload, validate, policy tests, explain, the other commands): reads
 * the file once, so the hash is of the exact bytes in service, and validates them. Throws ConfigError
 * listing every problem with file, line and key path.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let bytes: Buffer;
  try {
    bytes = readFileSync(resolve(file));
  } catch (error) {
    throw new ConfigError(file, [`${file}: cannot read file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  return parseConfig(bytes.toString('utf8'), file, env, sha256(bytes));
}

/** `hash` defaults to the sha256 of `text` (UTF-8); loadConfig passes the file's own bytes'. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, hash = sha256(Buffer.from(text, 'utf8'))): LoadedConfig {
  const located = parseLocatedYaml(text, file);
  const { value, sources } = applyEnvOverrides(located.raw, env);
  const describe = describeWithEnv(located.describe, sources, file);
  // reportInput: plainMessage tells a missing key ("required") from a wrong value by the input.
  const parsed = configSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(file, parsed.error.issues.flatMap((issue) => issueProblems(issue)).map(describe));
  }
  // Rules that span sections, which no one section's schema can see.
  const crossProblems = keptCredentialProblems(parsed.data);
  if (crossProblems.length > 0) throw new ConfigError(file, crossProblems.map(describe));
  return {
    file,
    baseDir: dirname(resolve(file)),
    config: deepFreeze(parsed.data),
    sha256: hash,
    sources,
    describe,
  };
}

export interface LocatedYaml {
  /** The document as plain JS (`{}` when empty). */
  readonly raw: unknown;
  /** `file:line: key.path: message`, the line being the deepest node of the path that exists. */
  readonly describe: (problem: ConfigProblem) => string;
}

/** Parses YAML keeping node positions; throws ConfigError naming the line of each syntax error. */
export function parseLocatedYaml(text: string, file: string): LocatedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `${file}:${lineCounter.linePos(e.pos[0]).line}: YAML: ${e.message.split('\n')[0]}`),
    );
  }
  const lineOf = (path: KeyPath): number | undefined => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const describe = (p: ConfigProblem): string => {
    const line = lineOf(p.path);
    return `${file}${line ? `:${line}` : ''}: ${formatKeyPath(p.path)}: ${p.message}`;
  };
  return { raw: doc.toJS() ?? {}, describe };
}

/** Unknown keys are reported one per key so the message names the misspelled field itself. */
export function issueProblems(issue: z.core.$ZodIssue, prefix: KeyPath = []): ConfigProblem[] {
  const path = [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown field '${key}'` }));
  }
  return [{ path, message: plainMessage(issue) }];
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * A value that came from an environment variable is reported as that variable: the file's line
 * for the key would point at a value that is not the one in effect.
 */
function describeWithEnv(describe: (p: ConfigProblem) => string, sources: ReadonlyMap<string, string>, file: string): (p: ConfigProblem) => string {
  return (p) => {
    for (const [key, source] of sources) {
      if (!source.startsWith('env:')) continue;
      const envPath = key.split('.');
      if (envPath.every((part, i) => String(p.path[i]) === part)) {
        return `${file}: ${formatKeyPath(p.path)} (from env ${source.slice(4)}): ${p.message}`;
      }
    }
    return describe(p);
  };
}
