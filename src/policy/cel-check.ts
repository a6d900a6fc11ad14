// Type-checks a parsed `when` expression against CEL_DECLARATIONS at load: unknown variables,
// fields that a declared variable does not have, unknown functions, `in` over a scalar, equality
// that can never hold, and a condition that is not a bool. Whatever cannot be known (the body, a
// function's result) is `dyn` and passes: the check refuses only what can never work.

import type { CelEnv } from '@bufbuild/cel';
import { CEL_DECLARATIONS, CEL_TYPE_NAMES, neverEqual, T, typeName, type CelT } from './cel-types.js';

export interface CelCheck {
  /** Human messages, first problem first; empty when the expression fits the declarations. */
  readonly problems: readonly string[];
  /** Declared variables the expression reads (`body` decides whether a rule needs the body). */
  readonly variables: ReadonlySet<string>;
}

type Expr = { exprKind: { case: string | undefined; value?: unknown } } | undefined;
type Scope = ReadonlyMap<string, CelT>;

const BOOL_RESULT = new Set(['_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_', '@in', '!_', '_&&_', '_||_', '@not_strictly_false', 'startsWith', 'endsWith', 'contains', 'matches']);
const ORDERING = new Set(['_<_', '_<=_', '_>_', '_>=_']);
const STRING_METHODS = new Set(['startsWith', 'endsWith', 'contains', 'matches']);
/** Operators the planner implements itself, not through the function resolver. */
const BUILTIN = new Set(['_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false']);
const RESULT: Readonly<Record<string, CelT>> = { size: T.int, int: T.int, uint: T.uint, double: T.double, string: T.string, bool: T.bool, bytes: T.bytes, type: T.type };

/** `declarations`: the variables in scope (input rules add `input`, src/guardrails/input/cel.ts). */
export function checkCel(parsed: unknown, funcs: Pick<CelEnv['funcs'], 'find'>, declarations: Readonly<Record<string, CelT>> = CEL_DECLARATIONS): CelCheck {
  const problems: string[] = [];
  const variables = new Set<string>();
  const problem = (message: string) => {
    if (!problems.includes(message)) problems.push(message);
  };

  /** `subject.attributes` for a chain of selects on a variable, a literal as written, else a neutral phrase. */
  const textOf = (expr: Expr): string => {
    const { case: kind, value } = expr?.exprKind ?? { case: undefined };
    const v = value as Record<string, unknown>;
    if (kind === 'identExpr') return v.name as string;
    if (kind === 'selectExpr') return `${textOf(v.operand as Expr)}.${v.field as string}`;
    if (kind === 'callExpr' && v.function === '_[_]') {
      const [operand, key] = v.args as Expr[];
      return `${textOf(operand)}[${textOf(key)}]`;
    }
    if (kind === 'constExpr') {
      const constant = (v.constantKind as { case: string; value: unknown }).value;
      return typeof constant === 'string' ? JSON.stringify(constant) : String(constant);
    }
    return 'the expression';
  };

  const field = (operand: Expr, type: CelT, name: string, where: string): CelT => {
    switch (type.kind) {
      case 'object': {
        const found = type.fields[name];
        if (found) return found;
        problem(`${where} has no field '${name}' (fields: ${Object.keys(type.fields).join(', ')})`);
        return T.dyn;
      }
      case 'map':
        return type.value;
      case 'dyn':
        return T.dyn;
      default:
        problem(`${textOf(operand)} is a ${typeName(type)}: it has no field '${name}'`);
        return T.dyn;
    }
  };

  const call = (v: Record<string, unknown>, scope: Scope): CelT => {
    const name = v.function as string;
    const target = v.target as Expr;
    const args = v.args as Expr[];
    const targetType = target ? walk(target, scope) : undefined;
    const argTypes = args.map((a) => walk(a, scope));
    if (!BUILTIN.has(name) && !CEL_TYPE_NAMES.has(name) && funcs.find(name) === undefined) {
      problem(`unknown function '${name}'`);
      return T.dyn;
    }
    if (STRING_METHODS.has(name) && targetType && targetType.kind !== 'string' && targetType.kind !== 'dyn') {
      problem(`${name}() needs a string, ${textOf(target)} is a ${typeName(targetType)}`);
    }
    const [a, b] = argTypes;
    if (name === '@in' && b && !['list', 'map', 'object', 'dyn'].includes(b.kind)) {
      problem(`'in' needs a list or map on its right, ${textOf(args[1])} is a ${typeName(b)}`);
    }
    if ((name === '_==_' || name === '_!=_') && a && b && neverEqual(a, b)) {
      const hint = a.kind === 'list' || b.kind === 'list' ? " (to test membership, use 'in')" : '';
      problem(`${textOf(args[0])} (${typeName(a)}) is never equal to ${textOf(args[1])} (${typeName(b)})${hint}`);
    }
    if (ORDERING.has(name) && a && b && neverEqual(a, b)) {
      problem(`${textOf(args[0])} (${typeName(a)}) cannot be ordered against ${textOf(args[1])} (${typeName(b)})`);
    }
    if (name === '_[_]' && a && b) return index(args[0], a, args[1], b);
    if (name === '_?_:_' && argTypes[1] && argTypes[2]) return argTypes[1].kind === argTypes[2].kind ? argTypes[1] : T.dyn;
    if (name === '_+_' && a && b && a.kind === b.kind && (a.kind === 'string' || a.kind === 'list')) return a;
    if (BOOL_RESULT.has(name)) return T.bool;
    return RESULT[name] ?? T.dyn;
  };

  const index = (operand: Expr, type: CelT, key: Expr, keyType: CelT): CelT => {
    const literal = key?.exprKind.case === 'constExpr' ? (key.exprKind.value as { constantKind: { case: string; value: unknown } }).constantKind : undefined;
    if (type.kind === 'object' && literal?.case === 'stringValue') return field(operand, type, literal.value as string, textOf(operand));
    if (type.kind === 'list') {
      if (keyType.kind !== 'int' && keyType.kind !== 'uint' && keyType.kind !== 'dyn') problem(`${textOf(operand)} is a list: its index must be an int`);
      return type.elem;
    }
    if (type.kind === 'map') return type.value;
    if (type.kind === 'object' || type.kind === 'dyn') return T.dyn;
    problem(`${textOf(operand)} is a ${typeName(type)}: it cannot be indexed`);
    return T.dyn;
  };

  const walk = (expr: Expr, scope: Scope): CelT => {
    if (!expr) return T.dyn;
    const { case: kind, value } = expr.exprKind;
    const v = value as Record<string, unknown>;
    switch (kind) {
      case 'constExpr':
        return constType((v.constantKind as { case: string }).case);
      case 'identExpr': {
        const name = v.name as string;
        const local = scope.get(name);
        if (local) return local;
        const declared = declarations[name];
        if (declared && Object.hasOwn(declarations, name)) {
          variables.add(name);
          return declared;
        }
        if (CEL_TYPE_NAMES.has(name)) return T.type;
        problem(`unknown variable '${name}' (use ${Object.keys(declarations).join(', ')})`);
        return T.dyn;
      }
      case 'selectExpr': {
        const operand = v.operand as Expr;
        const type = field(operand, walk(operand, scope), v.field as string, textOf(operand));
        return v.testOnly ? T.bool : type;
      }
      case 'callExpr':
        return call(v, scope);
      case 'listExpr':
        for (const e of v.elements as Expr[]) walk(e, scope);
        return { kind: 'list', elem: T.dyn };
      case 'structExpr':
        for (const e of v.entries as Array<{ keyKind: { case: string; value: unknown }; value: Expr }>) {
          if (e.keyKind.case === 'mapKey') walk(e.keyKind.value as Expr, scope);
          walk(e.value, scope);
        }
        return T.dyn;
      case 'comprehensionExpr': {
        const range = walk(v.iterRange as Expr, scope);
        walk(v.accuInit as Expr, scope);
        const element = range.kind === 'list' ? range.elem : range.kind === 'map' || range.kind === 'object' ? T.string : T.dyn;
        const inner = new Map(scope);
        inner.set(v.iterVar as string, element);
        if (v.iterVar2) inner.set(v.iterVar2 as string, T.dyn);
        inner.set(v.accuVar as string, T.dyn);
        walk(v.loopCondition as Expr, inner);
        walk(v.loopStep as Expr, inner);
        return walk(v.result as Expr, inner);
      }
      default:
        return T.dyn;
    }
  };

  const root = (parsed as { expr?: Expr })?.expr;
  const result = walk(root, new Map());
  if (result.kind !== 'bool' && result.kind !== 'dyn') problem(`a condition must be a bool, this one is a ${typeName(result)}`);
  return { problems, variables };
}

function constType(kind: string): CelT {
  switch (kind) {
    case 'stringValue':
      return T.string;
    case 'int64Value':
      return T.int;
    case 'uint64Value':
      return T.uint;
    case 'doubleValue':
      return T.double;
    case 'boolValue':
      return T.bool;
    case 'nullValue':
      return T.null;
    case 'bytesValue':
      return T.bytes;
    default:
      return T.dyn;
  }
}
