// Compiles a loaded config into pipeline stages, off the hot path, with every problem as a value.
// Callers go through load-stages.ts, which reads the file and words the problems for people.

import { approvalConfigProblems } from '../approvals/config-problems.js';
import type { ApprovalStage } from '../approvals/resolve.js';
import type { LoadedConfig } from '../config/load.js';
import type { ConfigProblem } from '../config/problems.js';
import { answerBuilder } from '../decision/answer.js';
import { compileConfigInputRules } from '../guardrails/input/compile.js';
import { maskingRoleProblems } from '../guardrails/mask/compile.js';
import { buildIdentity, type IdentityBuildOptions } from '../identity/build.js';
import { subjectReferenceProblems } from '../identity/subject.js';
import { compilePolicy } from '../policy/compile.js';
import { grantedRoleProblems } from '../policy/roles.js';
import { targetResolver } from '../policy/target.js';
import type { Stages } from '../pipeline/authorizer.js';
import type { Limiter } from '../ratelimit/limiter.js';

export interface BuildOptions extends Omit<IdentityBuildOptions, 'baseDir'> {
  readonly limiter: Limiter;
  /** Built once by the composition root, like the limiter; absent without an approvals section. */
  readonly approvals?: ApprovalStage;
}

export type BuiltStages =
  | { readonly ok: true; readonly stages: Stages; readonly warm: () => Promise<void> }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export function buildStages(loaded: LoadedConfig, options: BuildOptions): BuiltStages {
  const { config } = loaded;
  const problems: ConfigProblem[] = [];
  const compiled = compilePolicy(config.policy);
  problems.push(...compiled.problems, ...grantedRoleProblems(config), ...subjectReferenceProblems(config), ...approvalConfigProblems(config));
  const inputRules = compileConfigInputRules(config);
  problems.push(...inputRules.problems, ...maskingRoleProblems(config.guardrails?.masking, Object.keys(config.policy.roles)));
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
      inputRules: inputRules.compiled,
      approvals: options.approvals,
      answer: answerBuilder(config.answer, identity.resolver.credentialHeaders, config.server.on_error.http_status),
    },
  };
}
