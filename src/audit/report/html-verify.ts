// The chain-verification part of the HTML report: intact, broken (with the first issues) or no trail.

import type { VerifyReport } from '../verify.js';
import { figure, text } from './html-escape.js';

const SHOWN_ISSUES = 20;

export type ChainStatus = 'intact' | 'broken' | 'no_trail' | 'empty';

export function chainStatus(v: VerifyReport): ChainStatus {
  if (v.issues.some((i) => i.kind === 'no_trail')) return 'no_trail';
  if (!v.ok) return 'broken';
  return v.entries === 0 ? 'empty' : 'intact';
}

const HEADLINE: Record<ChainStatus, string> = {
  intact: 'Chain intact',
  broken: 'Chain BROKEN',
  no_trail: 'No trail',
  empty: 'No records yet (accepted with --allow-empty)',
};

export function verificationSection(v: VerifyReport): string {
  const status = chainStatus(v);
  const sigs = v.signaturesChecked ? 'checkpoint signatures verified with the given public key' : 'signatures NOT checked (no <code>--public-key</code>)';
  const counts = `${figure('verify', 'segments', v.segments)} segments, ${figure('verify', 'entries', v.entries)} chained entries, ${figure('verify', 'checkpoints', v.checkpoints)} checkpoints; ${sigs}.`;
  const issues = v.issues
    .slice(0, SHOWN_ISSUES)
    .map((i) => `<li><code>${text(i.segment)}</code> line ${i.line}: <span class="kind">${text(i.kind)}</span> ${text(i.message)}</li>`)
    .join('');
  const more = v.issues.length > SHOWN_ISSUES ? `<p class="note">${v.issues.length - SHOWN_ISSUES} more issues: run <code>modelgate audit verify</code>.</p>` : '';
  return `<section id="verification" class="status-${status}"><h2>Chain verification</h2>
<p class="verdict" data-status="${status}">${HEADLINE[status]}</p><p>${counts}</p>${issues ? `<ol class="issues">${issues}</ol>` : ''}${more}</section>`;
}
