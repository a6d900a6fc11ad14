// Strict decoder for Envoy's YAML (proto3 JSON form) against Envoy's own protos from @grpc/grpc-js-xds.
// protobufjs `fromObject` silently drops unknown keys and coerces types, so this walks every field
// itself: unknown field, unknown @type, wrong value kind, deprecated field or broken PGV rule is a problem.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { parse as parseYaml } from 'yaml';

const require = createRequire(import.meta.url);
const XDS_DEPS = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
// protobufjs bundles the google.protobuf well-known types; descriptor.proto (imported by the
// annotation protos) lives in its package folder.
const PROTOBUFJS_DIR = path.dirname(require.resolve('protobufjs/package.json'));
const INCLUDE_DIRS = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => path.join(XDS_DEPS, dir)),
  PROTOBUFJS_DIR,
];

export interface SchemaProblem {
  /** Dotted key path inside the document, e.g. `static_resources.clusters[0].name`. */
  readonly path: string;
  readonly message: string;
}

/** Looks up message and enum types, loading a package's .proto files the first time it is named. */
export class EnvoySchema {
  private readonly root = new protobuf.Root();
  private readonly loadedDirs = new Set<string>();

  constructor() {
    this.root.resolvePath = (_origin, target) => resolveProto(target);
    this.root.loadSync(
      ['envoy/config/bootstrap/v3/bootstrap.proto', 'google/protobuf/struct.proto', 'google/protobuf/wrappers.proto'],
      { keepCase: true },
    );
  }

  /** The message type for a full name (no leading dot), or undefined when no proto defines it. */
  lookupType(fullName: string): protobuf.Type | undefined {
    const found = this.find(fullName) ?? (this.loadPackageOf(fullName) ? this.find(fullName) : undefined);
    return found instanceof protobuf.Type ? found : undefined;
  }

  private find(fullName: string): protobuf.ReflectionObject | null {
    try {
      return this.root.lookup(fullName);
    } catch {
      return null;
    }
  }

  /** Loads every .proto in the folder of the type's package; Envoy keeps one package per folder. */
  private loadPackageOf(fullName: string): boolean {
    const parts = fullName.split('.');
    const pkg = parts.slice(0, parts.findIndex((part) => /^[A-Z]/.test(part)));
    const rel = pkg.join('/');
    if (pkg.length === 0 || this.loadedDirs.has(rel)) return false;
    this.loadedDirs.add(rel);
    const files = INCLUDE_DIRS.map((dir) => path.join(dir, rel))
      .filter((dir) => existsSync(dir))
      .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.proto')).map((f) => path.join(dir, f)));
    if (files.length === 0) return false;
    this.root.loadSync(files, { keepCase: true });
    this.root.resolveAll();
    return true;
  }
}

function resolveProto(target: string): string | null {
  if (path.isAbsolute(target)) return existsSync(target) ? target : null;
  for (const dir of INCLUDE_DIRS) {
    const candidate = path.join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

let shared: EnvoySchema | undefined;
/** One schema per test worker: loading the protos costs a few hundred milliseconds. */
export function envoySchema(): EnvoySchema {
  shared ??= new EnvoySchema();
  return shared;
}

/** Decodes a document as `typeName`; returns every problem found, empty when the document is valid. */
export function checkDocument(schema: EnvoySchema, typeName: string, doc: unknown): SchemaProblem[] {
  const type = schema.lookupType(typeName);
  if (!type) return [{ path: '', message: `unknown message type ${typeName}` }];
  const problems: SchemaProblem[] = [];
  checkMessage({ schema, problems }, type, doc, '');
  return problems;
}

interface Walk {
  readonly schema: EnvoySchema;
  readonly problems: SchemaProblem[];
}

const at = (base: string, key: string) => (base ? `${base}.${key}` : key);
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(walk: Walk, where: string, message: string): void {
  walk.problems.push({ path: where, message });
}

/** proto3 JSON accepts the field name and its lowerCamelCase json_name. */
function fieldFor(type: protobuf.Type, key: string): protobuf.Field | undefined {
  const direct = type.fields[key];
  if (direct) return direct;
  return type.fieldsArray.find((f) => jsonName(f) === key);
}

function jsonName(field: protobuf.Field): string {
  const explicit = field.options?.['json_name'];
  return typeof explicit === 'string' ? explicit : field.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function checkMessage(walk: Walk, type: protobuf.Type, value: unknown, where: string): void {
  if (checkWellKnown(walk, type, value, where)) return;
  if (!isObject(value)) return fail(walk, where, `expected an object for ${typeName(type)}, got ${kind(value)}`);
  const seen = new Map<string, string>();
  const oneofSet = new Map<string, string>();
  for (const [key, fieldValue] of Object.entries(value)) {
    const here = at(where, key);
    const field = fieldFor(type, key);
    if (!field) {
      fail(walk, here, `unknown field '${key}' in ${typeName(type)}`);
      continue;
    }
    const previous = seen.get(field.name);
    if (previous !== undefined) fail(walk, here, `field '${field.name}' set twice (also as '${previous}')`);
    seen.set(field.name, key);
    if (field.options?.['deprecated'] === true) fail(walk, here, `field '${field.name}' is deprecated in ${typeName(type)}`);
    if (field.partOf) {
      const other = oneofSet.get(field.partOf.name);
      if (other !== undefined) fail(walk, here, `oneof '${field.partOf.name}' has both '${other}' and '${field.name}'`);
      oneofSet.set(field.partOf.name, field.name);
    }
    checkField(walk, field, fieldValue, here);
  }
  checkRequired(walk, type, seen, oneofSet, where);
}

/** The protoc-gen-validate rules Envoy enforces at load that a YAML author most often breaks. */
function checkRequired(
  walk: Walk,
  type: protobuf.Type,
  seen: ReadonlyMap<string, string>,
  oneofSet: ReadonlyMap<string, string>,
  where: string,
): void {
  for (const field of type.fieldsArray) {
    // PGV applies the rules of a oneof member only when that member is the one set.
    if (field.partOf) continue;
    if (field.options?.['(validate.rules).message.required'] === true && !seen.has(field.name)) {
      fail(walk, at(where, field.name), `required field '${field.name}' of ${typeName(type)} is missing`);
    }
  }
  for (const oneof of type.oneofsArray) {
    if (oneof.options?.['(validate.required)'] === true && !oneofSet.has(oneof.name)) {
      fail(walk, where, `one of ${oneof.oneof.join(', ')} is required in ${typeName(type)}`);
    }
  }
}

function checkField(walk: Walk, field: protobuf.Field, value: unknown, where: string): void {
  if (value === null) return fail(walk, where, `null for '${field.name}' (omit the field instead)`);
  if (field instanceof protobuf.MapField) {
    if (!isObject(value)) return fail(walk, where, `expected a map (object) for '${field.name}', got ${kind(value)}`);
    for (const [key, item] of Object.entries(value)) checkSingle(walk, field, item, `${where}[${JSON.stringify(key)}]`);
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return fail(walk, where, `expected a list for repeated '${field.name}', got ${kind(value)}`);
    const minItems = field.options?.['(validate.rules).repeated.min_items'];
    if (typeof minItems === 'number' && value.length < minItems) {
      fail(walk, where, `'${field.name}' needs at least ${minItems} item(s)`);
    }
    value.forEach((item, i) => checkSingle(walk, field, item, `${where}[${i}]`));
    return;
  }
  checkSingle(walk, field, value, where);
}

function checkSingle(walk: Walk, field: protobuf.Field, value: unknown, where: string): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return checkMessage(walk, resolved, value, where);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value !== 'string' || !(value in resolved.values)) {
      return fail(walk, where, `expected a ${typeName(resolved)} name (${Object.keys(resolved.values).join('|')}), got ${JSON.stringify(value)}`);
    }
    if (field.options?.['(validate.rules).enum.not_in'] === resolved.values[value]) {
      fail(walk, where, `'${field.name}' must not be ${value}`);
    }
    return;
  }
  const problem = scalarProblem(field.type, value);
  if (problem) return fail(walk, where, `'${field.name}': ${problem}`);
  checkScalarRules(walk, field, value, where);
}

const INT_RANGES: Record<string, readonly [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
};
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

/** Why `value` is not a valid proto3-JSON `scalar`, or undefined when it is. */
export function scalarProblem(scalar: string, value: unknown): string | undefined {
  const got = `got ${kind(value)} ${JSON.stringify(value)}`;
  const range = INT_RANGES[scalar];
  if (range) {
    // 32-bit integers as JSON numbers only: a quoted "9191" is legal proto3 JSON but in a
    // hand-written config it almost always means a templating slip.
    const ok = typeof value === 'number' && Number.isInteger(value) && value >= range[0] && value <= range[1];
    return ok ? undefined : `expected ${scalar}, ${got}`;
  }
  if (INT64.has(scalar)) {
    const unsigned = scalar.startsWith('u') || scalar === 'fixed64';
    const ok =
      (typeof value === 'number' && Number.isSafeInteger(value) && (!unsigned || value >= 0)) ||
      (typeof value === 'string' && (unsigned ? /^\d+$/ : /^-?\d+$/).test(value));
    return ok ? undefined : `expected ${scalar}, ${got}`;
  }
  switch (scalar) {
    case 'double':
    case 'float':
      return typeof value === 'number' || ['NaN', 'Infinity', '-Infinity'].includes(value as string)
        ? undefined
        : `expected ${scalar}, ${got}`;
    case 'bool':
      return typeof value === 'boolean' ? undefined : `expected bool, ${got}`;
    case 'string':
      return typeof value === 'string' ? undefined : `expected string, ${got}`;
    case 'bytes':
      return typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value) ? undefined : `expected base64 bytes, ${got}`;
    default:
      return `unsupported scalar type ${scalar}`;
  }
}

function checkScalarRules(walk: Walk, field: protobuf.Field, value: unknown, where: string): void {
  const rules = field.options ?? {};
  if (typeof value === 'string') {
    const minLen = rules['(validate.rules).string.min_len'];
    if (typeof minLen === 'number' && value.length < minLen) fail(walk, where, `'${field.name}' must be at least ${minLen} character(s)`);
    return;
  }
  if (typeof value !== 'number') return;
  const bound = (op: string) => rules[`(validate.rules).${field.type}.${op}`];
  const gt = bound('gt');
  const gte = bound('gte');
  const lt = bound('lt');
  const lte = bound('lte');
  if (typeof gt === 'number' && !(value > gt)) fail(walk, where, `'${field.name}' must be > ${gt}`);
  if (typeof gte === 'number' && !(value >= gte)) fail(walk, where, `'${field.name}' must be >= ${gte}`);
  if (typeof lt === 'number' && !(value < lt)) fail(walk, where, `'${field.name}' must be < ${lt}`);
  if (typeof lte === 'number' && !(value <= lte)) fail(walk, where, `'${field.name}' must be <= ${lte}`);
}

const WRAPPERS: Record<string, string> = {
  DoubleValue: 'double',
  FloatValue: 'float',
  Int64Value: 'int64',
  UInt64Value: 'uint64',
  Int32Value: 'int32',
  UInt32Value: 'uint32',
  BoolValue: 'bool',
  StringValue: 'string',
  BytesValue: 'bytes',
};
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const SPECIAL_JSON = new Set([...Object.keys(WRAPPERS), 'Any', 'Duration', 'Timestamp', 'FieldMask', 'Struct', 'ListValue', 'Value']);

function hasSpecialJson(type: protobuf.Type): boolean {
  const name = typeName(type);
  return name.startsWith('google.protobuf.') && SPECIAL_JSON.has(name.slice('google.protobuf.'.length));
}

/** The well-known types with a special JSON form. Returns false for ordinary messages. */
function checkWellKnown(walk: Walk, type: protobuf.Type, value: unknown, where: string): boolean {
  const name = typeName(type);
  if (!name.startsWith('google.protobuf.')) return false;
  const short = name.slice('google.protobuf.'.length);
  const wrapped = WRAPPERS[short];
  if (wrapped) {
    const problem = scalarProblem(wrapped, value);
    if (problem) fail(walk, where, `${short}: ${problem}`);
    return true;
  }
  switch (short) {
    case 'Any':
      checkAny(walk, value, where);
      return true;
    case 'Duration':
      if (typeof value !== 'string' || !DURATION.test(value)) {
        fail(walk, where, `expected a Duration string like "0.25s", got ${kind(value)} ${JSON.stringify(value)}`);
      }
      return true;
    case 'Timestamp':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) fail(walk, where, 'expected an RFC 3339 Timestamp string');
      return true;
    case 'FieldMask':
      if (typeof value !== 'string') fail(walk, where, 'expected a FieldMask string');
      return true;
    case 'Struct':
      if (!isObject(value)) fail(walk, where, `expected an object for Struct, got ${kind(value)}`);
      return true;
    case 'ListValue':
      if (!Array.isArray(value)) fail(walk, where, `expected a list for ListValue, got ${kind(value)}`);
      return true;
    case 'Value':
      return true; // any JSON value
    case 'Empty':
      if (!isObject(value) || Object.keys(value).length > 0) fail(walk, where, 'expected {} for Empty');
      return true;
    default:
      return false;
  }
}

/** `{"@type": "type.googleapis.com/<full name>", ...fields}`; special-JSON types carry `value`. */
function checkAny(walk: Walk, value: unknown, where: string): void {
  if (!isObject(value)) return fail(walk, where, `expected an object with @type for Any, got ${kind(value)}`);
  const url = value['@type'];
  if (typeof url !== 'string' || !url.includes('/')) return fail(walk, at(where, '@type'), `missing or malformed @type ${JSON.stringify(url)}`);
  const fullName = url.slice(url.lastIndexOf('/') + 1);
  const type = walk.schema.lookupType(fullName);
  if (!type) return fail(walk, at(where, '@type'), `unknown type ${fullName}`);
  const { ['@type']: _url, ...rest } = value;
  if (hasSpecialJson(type)) {
    const extra = Object.keys(rest).filter((k) => k !== 'value');
    if (extra.length > 0) fail(walk, where, `Any of ${fullName} takes only 'value', got ${extra.join(', ')}`);
    checkWellKnown(walk, type, rest['value'], at(where, 'value'));
    return;
  }
  checkMessage(walk, type, rest, where);
}

function typeName(type: protobuf.ReflectionObject): string {
  return type.fullName.replace(/^\./, '');
}

export interface DecodedBootstrap {
  readonly doc: Record<string, unknown>;
  readonly problems: SchemaProblem[];
}

/** Reads an Envoy YAML file and decodes it as envoy.config.bootstrap.v3.Bootstrap. */
export function decodeBootstrapFile(file: string, schema = envoySchema()): DecodedBootstrap {
  // YAML 1.2 core schema without merge keys: a `<<` key stays a key and is reported as unknown.
  const doc: unknown = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: true });
  const problems = checkDocument(schema, 'envoy.config.bootstrap.v3.Bootstrap', doc);
  return { doc: isObject(doc) ? doc : {}, problems };
}
