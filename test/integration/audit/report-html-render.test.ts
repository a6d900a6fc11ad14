// The HTML report's renderer without a browser: every record-derived field escaped (only the page's
// own tags survive), the CSP hash matching the stylesheet, bucket sizes, and the empty and broken cases.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultAuditConfig } from '../../../src/audit/config.js';
import { buildReport } from '../../../src/audit/report/build-report.js';
import { renderHtmlReport } from '../../../src/audit/report/html-report.js';
import { REPORT_CSS } from '../../../src/audit/report/html-style.js';
import { bucketFor, timeline } from '../../../src/audit/report/timeline.js';
import type { VerifyReport } from '../../../src/audit/verify.js';
import { HOUR, makeRecord, NOW } from '../../helpers/audit/traffic.js';

const EVIL = (tag: string): string => `"'></td></svg></title></style><${tag} id="evil" onload="x()">&lt;`;
const PAGE_TAGS = new Set(['html', 'head', 'meta', 'title', 'style', 'body', 'main', 'header', 'h1', 'h2', 'h3', 'p', 'code', 'span', 'section', 'div',
  'svg', 'line', 'text', 'rect', 'ul', 'li', 'ol', 'dl', 'dt', 'dd', 'table', 'thead', 'tbody', 'tr', 'th', 'td']);

const intact: VerifyReport = { ok: true, segments: 1, entries: 10, checkpoints: 1, signaturesChecked: true, issues: [] };
const window = { now: NOW, sinceMs: 24 * HOUR, baselineMs: 7 * 24 * HOUR };

function tagsOf(html: string): string[] {
  return [...new Set([...html.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => m[1]!.toLowerCase()))];
}

/** Hostile values in every field the page shows: subject, model, reason, peer, request ids (via the decision log), the dir, an issue. */
function hostileReport() {
  const usual = { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '', address: 'hmac-sha256:usual' };
  const baseline = Array.from({ length: 30 }, (_, i) => makeRecord({ time: new Date(NOW - 48 * HOUR + i * 60_000).toISOString(), subject: EVIL('script'), peer: usual }));
  const records = Array.from({ length: 40 }, (_, i) =>
    makeRecord({ time: new Date(NOW - 3 * HOUR + i * 60_000).toISOString(), subject: EVIL('script'), model: EVIL('iframe'), decision: 'deny', reason: EVIL('img'),
      peer: { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '', address: EVIL('object') } }),
  );
  const log = `${JSON.stringify({ time: NOW - 2 * HOUR, request_id: EVIL('embed'), decision: 'allow', subject: EVIL('link') })}\n`;
  return buildReport([...baseline, ...records], window, defaultAuditConfig().report, log);
}

describe('renderHtmlReport', () => {
  it('escapes every record-derived field: only the page’s own tags remain', () => {
    const report = hostileReport();
    expect(report.anomalies.map((a) => a.kind).sort()).toEqual(['allowed_not_logged', 'denial_share', 'new_peer']);
    const broken: VerifyReport = { ...intact, ok: false, issues: [{ kind: 'altered', segment: EVIL('form'), line: 3, message: EVIL('base') }] };
    const html = renderHtmlReport({ report, verification: broken, dir: EVIL('svg') });
    expect(tagsOf(html).filter((t) => !PAGE_TAGS.has(t))).toEqual([]);
    expect(html).not.toContain('id="evil"');
    for (const tag of ['script', 'iframe', 'img', 'object', 'embed', 'link', 'form', 'base', 'svg']) {
      expect(html, tag).toContain(`&quot;&#39;&gt;&lt;/td&gt;&lt;/svg&gt;&lt;/title&gt;&lt;/style&gt;&lt;${tag} id=&quot;evil&quot; onload=&quot;x()&quot;&gt;&amp;lt;`);
    }
    expect(tagsOf(html).filter((t) => t === 'svg').length).toBe(1);
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html.match(/<\/svg>/g)).toHaveLength(3);
  });

  it('allows the inline stylesheet by its exact hash and nothing else', () => {
    const html = renderHtmlReport({ report: hostileReport(), verification: intact, dir: '/d' });
    const hash = createHash('sha256').update(REPORT_CSS).digest('base64');
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'">`);
    expect(html).toContain(`<style>${REPORT_CSS}</style>`);
    expect(html.match(/<style>/g)).toHaveLength(1);
    expect(html).not.toMatch(/ style=|<script|https?:\/\//);
  });

  it('says so when there is nothing to draw, and when there is no trail', () => {
    const empty = buildReport([], window, defaultAuditConfig().report);
    const noTrail: VerifyReport = { ok: false, segments: 0, entries: 0, checkpoints: 0, signaturesChecked: false, issues: [{ kind: 'no_trail', segment: '/x', line: 0, message: '/x does not exist: nothing to verify' }] };
    const html = renderHtmlReport({ report: empty, verification: noTrail, dir: '/x' });
    expect(html).toContain('No requests in the window.');
    expect(html).toContain('No denials in the window.');
    expect(html).toContain('<p class="verdict" data-status="no_trail">No trail</p>');
    expect(html).toContain('signatures NOT checked');
    expect(html).not.toContain('<svg');
  });

  it('sizes buckets so any window fits 48 bars, and puts a record at the window’s end in the last one', () => {
    expect([HOUR, 24 * HOUR, 7 * 24 * HOUR, 30 * 24 * HOUR].map(bucketFor)).toEqual([5 * 60_000, 30 * 60_000, 6 * HOUR, 24 * HOUR]);
    const t = timeline([makeRecord({ time: new Date(NOW).toISOString() }), makeRecord({ time: new Date(NOW - 24 * HOUR).toISOString() })], NOW - 24 * HOUR, NOW);
    expect(t.buckets).toBe(48);
    expect(t.subjects[0]!.counts[0]).toBe(1);
    expect(t.subjects[0]!.counts[47]).toBe(1);
  });
});
