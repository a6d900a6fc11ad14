// Converts google.protobuf.Struct/Value as proto-loader decodes them (camelCase oneof fields) into plain JSON.

export interface ProtoValue {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
  kind?: string;
}

export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

export function valueToJson(value: ProtoValue | undefined): unknown {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return structToJson(value.structValue);
  if (value.listValue !== undefined) return (value.listValue.values ?? []).map(valueToJson);
  return null;
}

export function structToJson(struct: ProtoStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value);
  return out;
}

/** The inverse, for clients that must send metadata exactly as Envoy does. */
export function jsonToValue(value: unknown): ProtoValue {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  return { structValue: jsonToStruct(value as Record<string, unknown>) };
}

export function jsonToStruct(obj: Readonly<Record<string, unknown>>): ProtoStruct {
  return { fields: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, jsonToValue(v)])) };
}
