// Canonical form of a request path for matching, so `/v1/models/a/../b` and `//v1/%6dodels/b` cannot
// slip past a pattern; anything ambiguous is refused rather than guessed.
//
// `;` is refused anywhere in the path, raw or percent-encoded: servlet containers, Spring and many
// model servers strip `;params` from a segment (`/v1/models/churn;v=1:train` reaches them as
// `churn:train`), so a path with one names a different model upstream than here.

export type NormalizedPath = { ok: true; path: string } | { ok: false; detail: string };

export function normalizePath(rawPath: string): NormalizedPath {
  const clean = alreadyCanonical(rawPath);
  if (clean !== undefined) return { ok: true, path: clean };
  let path = rawPath;
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  if (!path.startsWith('/')) return { ok: false, detail: 'path does not start with /' };
  // Encoded separators and dots mean one thing to one server and another to the next; refuse them.
  if (/%2f|%5c/i.test(path) || path.includes('\\')) return { ok: false, detail: 'encoded or back slash in path' };
  if (/%2e/i.test(path)) return { ok: false, detail: 'encoded dot in path' };
  let decoded: string;
  try {
    decoded = path.includes('%') ? decodeURIComponent(path) : path;
  } catch {
    return { ok: false, detail: 'invalid percent-encoding' };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return { ok: false, detail: 'control character in path' };
  if (decoded.includes(';')) return { ok: false, detail: "';' in path (a path parameter an upstream may strip)" };
  const out: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return { ok: false, detail: 'path escapes root' };
      out.pop();
    } else {
      out.push(segment);
    }
  }
  const trailing = decoded.length > 1 && decoded.endsWith('/') && out.length > 0 ? '/' : '';
  return { ok: true, path: `/${out.join('/')}${trailing}` };
}

/**
 * The common case without a regex or a split: a path (before `?`/`#`) that starts with `/` and has
 * no `%`, no backslash, no `;`, no control character, and no `/` followed by `/` or `.` is exactly what the
 * full walk below would return (no decoding, no empty/dot segments to drop, trailing `/` kept).
 * Anything else, including every path the walk refuses, returns undefined and takes the walk.
 */
function alreadyCanonical(rawPath: string): string | undefined {
  if (rawPath.charCodeAt(0) !== 0x2f) return undefined;
  let end = rawPath.length;
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c === 0x3f || c === 0x23) {
      end = i; // '?' or '#': the query or fragment is not part of the path
      break;
    }
    if (c < 0x20 || c === 0x7f || c === 0x25 || c === 0x5c || c === 0x3b) return undefined; // control, '%', '\', ';'
    if (c === 0x2f) {
      const next = rawPath.charCodeAt(i + 1);
      if (next === 0x2f || next === 0x2e) return undefined; // '//' or '/.'
    }
  }
  return end === rawPath.length ? rawPath : rawPath.slice(0, end);
}
