// `audit report --html`: one self-contained page from the same report `--json` prints, plus the chain's verification.

import { createHash } from 'node:crypto';
import type { VerifyReport } from '../verify.js';
import { anomaliesSection } from './html-anomalies.js';
import type { Report } from './build-report.js';
import { figure, formatNumber, text } from './html-escape.js';
import { REPORT_CSS } from './html-style.js';
import { denialsSection, usageOverTime, usageTables } from './html-usage.js';
import { verificationSection } from './html-verify.js';

export interface HtmlReportInput {
  readonly report: Report;
  readonly verification: VerifyReport;
  /** The store directory as the operator named it, shown in the header. */
  readonly dir: string;
}

/**
 * The policy allows nothing but the one stylesheet (by hash): no script, no image, no font, no
 * fetch. Whatever slipped past escaping could neither run nor call out; the page needs neither.
 */
export function contentSecurityPolicy(css: string): string {
  const hash = createHash('sha256').update(css).digest('base64');
  return `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'`;
}

/** The one figure not in `--json` as such: `data-sum` names the field it adds up over the list. */
function summary(r: Report): string {
  const denied = r.denials.reduce((a, d) => a + d.denied, 0);
  return `<section id="summary"><div class="summary-figures">
<div>records in window ${figure('json', 'records', r.records)}</div>
<div>subjects ${figure('json', 'subjects.length', r.subjects.length)}</div>
<div>models ${figure('json', 'models.length', r.models.length)}</div>
<div>denied <span class="n" data-sum="denials.denied" data-value="${denied}">${formatNumber(denied)}</span></div>
<div>anomalies ${figure('json', 'anomalies.length', r.anomalies.length)}</div>
</div></section>`;
}

/** Pure: the same input gives the same bytes (no clock, no randomness), so pages can be diffed. */
export function renderHtmlReport({ report, verification, dir }: HtmlReportInput): string {
  const w = report.window;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(REPORT_CSS)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>modelgate audit report ${text(w.from)} – ${text(w.to)}</title>
<style>${REPORT_CSS}</style></head>
<body><main>
<header><h1>modelgate audit report</h1>
<p class="note">Store <code>${text(dir)}</code>; window <span class="time">${text(w.from)}</span> to <span class="time">${text(w.to)}</span>, baseline from ${text(w.baseline_from)}.</p></header>
${summary(report)}
${verificationSection(verification)}
${anomaliesSection(report)}
${usageOverTime(report)}
${denialsSection(report)}
${usageTables(report)}
</main></body></html>
`;
}
