// Converts between plain JSON values and google.protobuf.Struct in proto-loader's camelCase form.

import type { PbStruct, PbValue } from './envoy-types.js';

export function structToJson(struct: PbStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = struct?.fields;
  if (!fields) return out;
  for (const key of Object.keys(fields)) setOwn(out, key, valueToJson(fields[key]));
  return out;
}

function valueToJson(value: PbValue | undefined): unknown {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return structToJson(value.structValue);
  if (value.listValue !== undefined) return (value.listValue.values ?? []).map(valueToJson);
  return null;
}

/** Flat string/number/bool maps are all modelgate sends, which keeps this cheap on the hot path. */
export function jsonToStruct(obj: Readonly<Record<string, unknown>>): PbStruct {
  const fields: Record<string, PbValue> = {};
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v === undefined) continue;
    fields[key] = jsonToValue(v);
  }
  return { fields };
}

function jsonToValue(v: unknown): PbValue {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'number':
      return { numberValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'object':
      if (v === null) return { nullValue: 'NULL_VALUE' };
      if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
      return { structValue: jsonToStruct(v as Record<string, unknown>) };
    default:
      return { stringValue: String(v) };
  }
}

/** `__proto__` becomes an own property like any key instead of reaching the prototype setter. */
export function setOwn<T>(into: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}
