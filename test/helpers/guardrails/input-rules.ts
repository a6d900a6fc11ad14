// Builds compiled input rules from plain objects for the unit tests, through the real schema and compiler.

import { compileInputRules, type CompiledInputRules } from '../../../src/guardrails/input/compile.js';
import { inputRulesSchema } from '../../../src/guardrails/input/config.js';
import type { Identity } from '../../../src/identity/identity.js';
import type { RuleRequest } from '../../../src/policy/rule-request.js';
import { lazyJsonBody } from '../../../src/check/body.js';
import type { CheckInput } from '../../../src/check/check-input.js';
import { checkInput } from '../check-input.js';

export const CONTEXT = { roles: new Set(['chat_user', 'author', 'tools']), policyRuleIds: new Set(['allow-chat']), issuerNames: new Set(['corp']) };

export function compile(section: unknown): CompiledInputRules {
  const { compiled, problems } = compileInputRules(inputRulesSchema.parse(section), CONTEXT);
  if (!compiled) throw new Error(`does not compile: ${JSON.stringify(problems)}`);
  return compiled;
}

/** Problems of a section, as `key.path: message` lines. */
export function problemsOf(section: unknown): string[] {
  return compileInputRules(inputRulesSchema.parse(section), CONTEXT).problems.map((p) => `${p.path.join('.')}: ${p.message}`);
}

export const alice: Identity = { subject: 'api_key:alice', method: 'api_key', roles: ['chat_user'], attributes: {} };

export interface RequestOptions {
  readonly identity?: Identity;
  readonly model?: string;
  readonly action?: string;
  /** A value is JSON-encoded; a string is sent as is. */
  readonly body?: unknown;
  readonly raw?: string;
  readonly partial?: boolean;
}

/** A rule request with a counting body reader: `reads()` says how often the body was parsed. */
export function request(o: RequestOptions = {}): RuleRequest & { reads: () => number } {
  const text = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const body: CheckInput['body'] = text === undefined ? undefined : { text, partial: o.partial ?? false };
  const input = checkInput({ path: '/v1/chat/completions', body });
  const parse = lazyJsonBody(body);
  let reads = 0;
  return {
    identity: o.identity ?? alice,
    target: { model: o.model ?? 'gpt-small', action: o.action ?? 'chat', path: '/v1/chat/completions' },
    input,
    body: () => {
      reads++;
      return parse();
    },
    reads: () => reads,
  };
}

export const chat = (...messages: Array<[role: string, content: unknown]>) => ({ model: 'gpt-small', messages: messages.map(([role, content]) => ({ role, content })) });
