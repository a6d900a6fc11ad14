// Works out which model and action a request targets: route context_extensions first, then
// configured path patterns, then an OpenAI-style `model` field in the JSON body. Whatever the
// source, a name outside the safe set is refused and a model is lower-cased (names.ts).

import type { PolicyConfig } from '../config/schema.js';
import type { CheckInput } from '../check/check-input.js';
import { normalizePath } from './normalize-path.js';
import { canonicalModel, nameChecker } from './names.js';

export interface Target {
  readonly model: string;
  readonly action: string;
  readonly path: string;
}

export type TargetResult =
  | { readonly ok: true; readonly target: Target }
  | { readonly ok: false; readonly reason: 'path_invalid' | 'target_invalid' | 'target_unknown'; readonly detail: string };

interface PathRoute {
  readonly regex: RegExp;
  readonly methods?: ReadonlySet<string>;
  readonly action: string;
  readonly model?: string;
  readonly modelFromBody?: string;
}

export type TargetResolver = (input: CheckInput, body: () => unknown) => TargetResult;

/**
 * `/v1/models/{model}:predict` → a regex where {model} is one non-empty path segment piece. The
 * piece may not hold the character that follows it (`:` here): `churn:x:predict` would otherwise
 * capture `churn:x` while an upstream splitting at the first `:` reads `churn`.
 */
export function compilePathPattern(pattern: string): RegExp {
  const parts = pattern.split('{model}');
  if (parts.length > 2) throw new Error('at most one {model} per pattern');
  const escaped = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const delimiter = parts[1]?.[0];
  const piece = delimiter === undefined || delimiter === '/' ? '[^/]' : `[^/${delimiter.replace(/[\]\\^-]/g, '\\$&')}]`;
  return new RegExp(`^${escaped.join(`(${piece}+)`)}$`);
}

export function targetResolver(targets: PolicyConfig['targets']): TargetResolver {
  const modelKey = targets.context_extensions.model;
  const actionKey = targets.context_extensions.action;
  const isSafeName = nameChecker(targets.names);
  const routes: PathRoute[] = targets.paths.map((p) => ({
    regex: compilePathPattern(p.pattern),
    methods: p.methods ? new Set(p.methods) : undefined,
    action: p.action,
    model: p.model,
    modelFromBody: p.model_from_body,
  }));

  return (input, body) => {
    const normalized = normalizePath(input.path);
    if (!normalized.ok) return { ok: false, reason: 'path_invalid', detail: normalized.detail };
    const path = normalized.path;
    let model = input.contextExtensions[modelKey];
    let action = input.contextExtensions[actionKey];
    // A name read from the path makes the path unusable; one from config or the body, the target.
    let fromPath = false;
    if (!model || !action) {
      for (const route of routes) {
        if (route.methods && !route.methods.has(input.method)) continue;
        const m = route.regex.exec(path);
        if (!m) continue;
        action ||= route.action;
        if (!model) {
          fromPath = m[1] !== undefined;
          model = m[1] ?? route.model ?? (route.modelFromBody ? bodyField(body(), route.modelFromBody) : undefined);
        }
        break;
      }
    }
    if (!model || !action) return { ok: false, reason: 'target_unknown', detail: `no model/action for ${input.method} ${path}` };
    if (!isSafeName(model)) {
      return fromPath
        ? { ok: false, reason: 'path_invalid', detail: `model ${quoted(model)} in path is not a safe name` }
        : { ok: false, reason: 'target_invalid', detail: `model ${quoted(model)} is not a safe name` };
    }
    if (!isSafeName(action)) return { ok: false, reason: 'target_invalid', detail: `action ${quoted(action)} is not a safe name` };
    return { ok: true, target: { model: canonicalModel(model), action, path } };
  };
}

/** For the log only, and bounded: a body can carry a megabyte-long `model`. */
const quoted = (name: string): string => JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);

function bodyField(body: unknown, field: string): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const v = (body as Record<string, unknown>)[field];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
