// The one rule for header values modelgate sends, gRPC and HTTP mode alike, and for the config
// and claim values that become them.
//
// A valid value has no control character other than HTAB (U+0000–U+0008, U+000A–U+001F, U+007F)
// and no space or HTAB at either end. Envoy with `validate_mutations` rejects a whole answer with
// a control character in one header (a bodiless 500 after modelgate logged an allow; without it a
// CR/LF could split a header on HTTP/1 upstreams), and HTTP parsers trim surrounding whitespace, so
// the model server would read another value than the one decided. Characters above U+007F are
// fine: they travel as UTF-8 bytes.
//
// Where the values come from, and what happens to a bad one:
// - config (API-key and workload subjects and attributes, `answer.realm`): a config error at load;
// - JWT claims: `token_claims_invalid` (identity/claims.ts);
// - anything else that reaches a header (an mTLS principal or SAN used as the subject): escaped by
//   `safeHeaderValue` when the answer is built, each offending character as `\uXXXX`, so it can
//   neither split a header nor be trimmed into another value.
// The other headers (RateLimit, Retry-After, WWW-Authenticate) are built from numbers, reason codes
// and config checked at load (bucket ids, the realm).

const TAB = 0x09;
const SPACE = 0x20;

function isControl(c: number): boolean {
  return (c < 0x20 && c !== TAB) || c === 0x7f;
}

/** A charCode loop, no regex: runs for every identity header of every allowed check. */
export function isHeaderValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === SPACE || first === TAB || last === SPACE || last === TAB) return false;
  for (let i = 0; i < n; i++) if (isControl(value.charCodeAt(i))) return false;
  return true;
}

/** Why a value is not a valid header value, for config errors; undefined when it is. */
export function headerValueProblem(value: string): string | undefined {
  if (isHeaderValue(value)) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (isControl(c)) return `contains the control character ${codePoint(c)}, which no header value may carry`;
  }
  return 'starts or ends with whitespace, which HTTP trims from a header value';
}

/** The value itself when valid (no copy); else each control character and each surrounding SP/HTAB as `\uXXXX`. */
export function safeHeaderValue(value: string): string {
  if (isHeaderValue(value)) return value;
  let lead = 0;
  while (lead < value.length && isBlank(value.charCodeAt(lead))) lead++;
  let trail = value.length;
  while (trail > lead && isBlank(value.charCodeAt(trail - 1))) trail--;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    out += isControl(c) || i < lead || i >= trail ? `\\u${c.toString(16).padStart(4, '0')}` : value[i];
  }
  return out;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

const codePoint = (c: number): string => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
