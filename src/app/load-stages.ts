// The one way a config file becomes pipeline stages, for every caller (serve at start and on reload,
// the cluster primary's check, validate, the policy tests): read, check every problem, build. A
// broken file is a ConfigError listing every problem, each with file, line and key path.

import { readFileSync } from 'node:fs';
import { loadConfig, parseLocatedYaml, type LoadedConfig } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import type { Stages } from '../pipeline/authorizer.js';
import { buildStages, type BuildOptions } from './build-stages.js';
import { salvagedPolicyProblems } from './salvage-policy.js';

export type ConfigRead = { readonly ok: true; readonly loaded: LoadedConfig } | { readonly ok: false; readonly error: ConfigError };

export type CheckedStages =
  | { readonly ok: true; readonly stages: Stages; readonly warm: () => Promise<void> }
  | { readonly ok: false; readonly error: ConfigError };

export type StagesLoad =
  | { readonly ok: true; readonly loaded: LoadedConfig; readonly stages: Stages; readonly warm: () => Promise<void> }
  | { readonly ok: false; readonly error: ConfigError };

/** Reads, checks and builds `file` with `options.env`; the stages are not warmed (JWKS fetches) yet. */
export function loadStages(file: string, options: BuildOptions): StagesLoad {
  const read = readConfig(file, options.env);
  if (!read.ok) return read;
  const built = checkedStages(read.loaded, options);
  return built.ok ? { ...built, loaded: read.loaded } : built;
}

/**
 * The config alone (its limits choose the limiter the stages are built with). When the schema fails,
 * the policy checks (unknown roles, duplicate ids, CEL, globs) still run over every rule that parses,
 * so one run reports every problem of the file instead of one fix at a time.
 */
export function readConfig(file: string, env: NodeJS.ProcessEnv): ConfigRead {
  try {
    return { ok: true, loaded: loadConfig(file, env) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { ok: false, error: withSalvagedProblems(file, error) };
  }
}

/** Builds stages for a config already read (the policy tests swap test secrets in first). */
export function checkedStages(loaded: LoadedConfig, options: BuildOptions): CheckedStages {
  const built = buildStages(loaded, options);
  if (built.ok) return built;
  return { ok: false, error: new ConfigError(loaded.file, built.problems.map(loaded.describe)) };
}

function withSalvagedProblems(file: string, error: ConfigError): ConfigError {
  let extra: string[];
  try {
    const { raw, describe } = parseLocatedYaml(readFileSync(file, 'utf8'), file);
    extra = salvagedPolicyProblems(raw).map(describe);
  } catch {
    return error; // unreadable or not YAML: the error already says so
  }
  const lines = [...error.lines];
  for (const line of extra) if (!lines.includes(line)) lines.push(line);
  return lines.length === error.lines.length ? error : new ConfigError(error.file, lines);
}
