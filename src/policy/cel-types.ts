// The declared types of the variables a `when` condition sees, and a checker that walks a parsed
// expression against them at load. @bufbuild/cel 0.6 plans any expression and only fails when it
// runs (its own checker covers constants and identifiers), so `subject.atributes.org` would pass
// `validate` and then make every request a condition_error. Activation (activation.ts) builds
// exactly these shapes.

/** A static CEL type; `object` is a closed record (a typo in a field is an error), `map` is open. */
export type CelT =
  | { readonly kind: 'string' | 'int' | 'uint' | 'double' | 'bool' | 'null' | 'bytes' | 'type' | 'dyn' }
  | { readonly kind: 'list'; readonly elem: CelT }
  | { readonly kind: 'map'; readonly value: CelT }
  | { readonly kind: 'object'; readonly name: string; readonly fields: Readonly<Record<string, CelT>> };

export const T = {
  string: { kind: 'string' },
  int: { kind: 'int' },
  uint: { kind: 'uint' },
  double: { kind: 'double' },
  bool: { kind: 'bool' },
  null: { kind: 'null' },
  bytes: { kind: 'bytes' },
  type: { kind: 'type' },
  dyn: { kind: 'dyn' },
} as const satisfies Record<string, CelT>;

const listOf = (elem: CelT): CelT => ({ kind: 'list', elem });
const mapOf = (value: CelT): CelT => ({ kind: 'map', value });
const objectOf = (name: string, fields: Record<string, CelT>): CelT => ({ kind: 'object', name, fields });

/** Every variable a condition may read, with its shape. `body` is the request's JSON: anything. */
export const CEL_DECLARATIONS: Readonly<Record<string, CelT>> = {
  subject: objectOf('subject', {
    /** Qualified: `api_key:…`, `jwt:<issuer name>:…`, `mtls:…`. */
    id: T.string,
    roles: listOf(T.string),
    scopes: listOf(T.string),
    attributes: mapOf(T.string),
    method: T.string,
    /** `api_key`, `jwt:<issuer name>` or `mtls`. */
    source: T.string,
    /** The id as its source named it (the `sub` claim, the key's subject, the SAN). */
    raw_id: T.string,
  }),
  request: objectOf('request', {
    method: T.string,
    path: T.string,
    host: T.string,
    headers: mapOf(T.string),
  }),
  model: T.string,
  action: T.string,
  context: mapOf(T.string),
  body: T.dyn,
};

/** Type names usable as values (`type(x) == double`). */
export const CEL_TYPE_NAMES: ReadonlySet<string> = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

export function typeName(t: CelT): string {
  switch (t.kind) {
    case 'list':
      return `list(${typeName(t.elem)})`;
    case 'map':
      return `map(string, ${typeName(t.value)})`;
    case 'object':
      return `${t.name} (fields: ${Object.keys(t.fields).join(', ')})`;
    default:
      return t.kind;
  }
}

/** Whether two static types can never be equal: both known and of different kinds (numbers compare across kinds). */
export function neverEqual(a: CelT, b: CelT): boolean {
  const numeric = new Set(['int', 'uint', 'double']);
  if (a.kind === 'dyn' || b.kind === 'dyn' || a.kind === 'null' || b.kind === 'null') return false;
  if (numeric.has(a.kind) && numeric.has(b.kind)) return false;
  const family = (t: CelT) => (t.kind === 'object' ? 'map' : t.kind);
  return family(a) !== family(b);
}
