// Compiles a loaded config into pipeline stages, off the hot path; used at start, on reload, and by
// the validate / test / explain commands so they all judge a config the same way.

import type { LoadedConfig } from '../config/load.js';
import type { ConfigProblem } from '../config/problems.js';
import { answerBuilder } from '../decision/answer.js';
import { buildIdentity, type IdentityBuildOptions } from '../identity/build.js';
import { subjectReferenceProblems } from '../identity/subject.js';
import { compilePolicy } from '../policy/compile.js';
import { targetResolver } from '../policy/target.js';
import type { Stages } from '../pipeline/authorizer.js';
import type { Limiter } from '../ratelimit/limiter.js';

export interface BuildOptions extends Omit<IdentityBuildOptions, 'baseDir'> {
  readonly limiter: Limiter;
}

export type BuiltStages =
  | { readonly ok: true; readonly stages: Stages; readonly warm: () => Promise<void> }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export function buildStages(loaded: LoadedConfig, options: BuildOptions): BuiltStages {
  const { config } = loaded;
  const problems: ConfigProblem[] = [];
  const compiled = compilePolicy(config.policy);
  problems.push(...compiled.problems, ...roleReferenceProblems(loaded), ...subjectReferenceProblems(config));
  const identity = buildIdentity(config, { ...options, baseDir: loaded.baseDir });
  if (!identity.ok) problems.push(...identity.problems);
  if (problems.length > 0 || !compiled.policy || !identity.ok) return { ok: false, problems };
  return {
    ok: true,
    warm: identity.warm,
    stages: {
      identity: identity.resolver,
      target: targetResolver(config.policy.targets),
      policy: compiled.policy,
      limiter: options.limiter,
      now: options.now,
      answer: answerBuilder(config.answer, identity.resolver.credentialHeaders, config.server.on_error.http_status),
    },
  };
}

/** Roles granted by workloads and API keys must exist in policy.roles, or a typo silently grants nothing. */
function roleReferenceProblems(loaded: LoadedConfig): ConfigProblem[] {
  const { config } = loaded;
  const roles = new Set(Object.keys(config.policy.roles));
  const problems: ConfigProblem[] = [];
  const check = (list: readonly string[], path: Array<string | number>) =>
    list.forEach((role, i) => {
      if (!roles.has(role)) problems.push({ path: [...path, i], message: `unknown role '${role}' (not declared in policy.roles)` });
    });
  config.identity.mtls?.workloads.forEach((w, i) => check(w.roles, ['identity', 'mtls', 'workloads', i, 'roles']));
  config.identity.api_keys?.keys.forEach((k, i) => check(k.roles, ['identity', 'api_keys', 'keys', i, 'roles']));
  return problems;
}
