// Escaping and number cells for the HTML report: every record-derived string goes through `text`.

/**
 * Records are attacker-influenced (a subject is whatever a client put in a token or a SAN), so a
 * subject like `</svg><script>` must stay text. The same escaping is safe in element content and
 * in quoted attribute values, in HTML and inside inline SVG alike.
 */
export function text(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Shortens before escaping, so an entity is never cut in half. */
export function clipped(value: string, max: number): string {
  return text(value.length > max ? `${value.slice(0, max - 1)}…` : value);
}

export function formatNumber(n: number): string {
  const [whole, fraction] = String(n).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/**
 * A number shown on the page, tagged with where it comes from: `data-json` is its path in
 * `audit report --json` (`subjects.3.requests`), `data-verify` in `audit verify --json`, so a
 * test (or a reviewer) can check every figure against the machine-readable output.
 */
export function figure(source: 'json' | 'verify', path: string, n: number, tag = 'span'): string {
  return `<${tag} class="n" data-${source}="${text(path)}" data-value="${n}">${formatNumber(n)}</${tag}>`;
}
