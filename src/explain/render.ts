// Prints an explanation as numbered stages, in the order the pipeline runs them.

import type { Explanation } from './explain.js';

export function renderExplanation(e: Explanation, notes: readonly string[] = []): string {
  const out: string[] = [];
  const r = e.request;
  out.push(`request   ${r.method} ${r.path}  host ${r.host || '-'}  request-id ${r.requestId || '-'}`);
  const ext = Object.entries(r.contextExtensions);
  if (ext.length > 0) out.push(`          context_extensions ${ext.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (r.body) out.push(`          body ${r.body}`);
  for (const note of notes) out.push(`note      ${note}`);

  out.push('', '1. identity (first source whose credential is present decides)');
  for (const s of e.identity.sources) out.push(`   ${s.present ? '●' : '○'} ${s.name.padEnd(8)} ${s.carrier}: ${s.present ? 'present' : 'absent'}`);
  const id = e.identity.result;
  if (!id) out.push('   → not reached');
  else if (id.ok) {
    const i = id.identity;
    out.push(`   → ${i.method}: subject ${i.subject}, roles [${i.roles.join(', ')}]`);
    const attrs = Object.entries(i.attributes);
    if (attrs.length > 0) out.push(`     attributes ${attrs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
    if (i.issuer) out.push(`     from ${i.issuer}`);
  } else {
    out.push(`   → failed: ${id.reason}${id.detail ? ` (${id.detail})` : ''}`);
  }

  out.push('', '2. target');
  if (e.target) out.push(`   → model ${e.target.model}, action ${e.target.action}`);
  else if (id?.ok) out.push(`   → ${e.decision.reason}${e.decision.detail ? `: ${e.decision.detail}` : ''}`);
  else out.push('   → not reached');

  out.push('', '3. rules (a matching deny wins over any allow; no allow means deny)');
  if (e.rules.length === 0 || !e.target) out.push('   → not reached');
  for (const rule of e.rules) {
    if (!e.target) break;
    const mark = rule.outcome === 'matched' ? '✓' : rule.outcome === undefined ? '·' : '✗';
    const tag = `${rule.stage === 'input' ? 'input rule, ' : ''}${rule.effect}${rule.shadow ? ', shadow' : ''}`;
    out.push(`   ${mark} ${rule.id} (${tag}): ${rule.why}${rule.decided ? '   ← decided' : ''}`);
  }
  if (e.target) {
    const d = e.decision;
    if (d.allowed || d.limit) out.push(`   → allowed by ${d.ruleId}`);
    else if (d.reason === 'no_matching_rule') out.push('   → no allow rule matched: default deny');
    else out.push(`   → ${d.reason}${d.ruleId ? ` by ${d.ruleId}` : ''}`);
    if (d.shadowRules.length > 0) out.push(`   shadow rules that would have applied: ${d.shadowRules.join(', ')}`);
  }

  out.push('', '4. limits');
  if (!e.limits.reached) out.push('   → not reached');
  else {
    if (e.limits.buckets.length === 0) out.push('   no bucket applies');
    for (const b of e.limits.buckets) out.push(`   • ${b.id}${b.shadow ? ' (shadow)' : ''}: cost ${b.cost}, capacity ${b.capacity}, refills ${b.refill}`);
    const meta = Object.entries(e.limits.metadata);
    if (meta.length > 0) out.push(`   state ${meta.map(([k, v]) => `${k}=${v}`).join(' ')}`);
    if (e.limits.shadowDenied.length > 0) out.push(`   shadow buckets that would deny: ${e.limits.shadowDenied.join(', ')}`);
    const limit = e.decision.limit;
    out.push(e.decision.allowed ? '   → within budget' : `   → ${e.decision.reason}${limit?.limitId ? ` by ${limit.limitId}` : ''}${limit?.retryAfterSeconds !== undefined ? `, retry after ${limit.retryAfterSeconds}s` : ''}`);
  }

  const a = e.answer;
  out.push('', '5. answer');
  out.push(`   ${a.allowed ? 'ALLOW' : 'DENY'} http ${a.httpStatus}, grpc status ${a.grpcCode}, reason ${e.decision.reason}`);
  for (const [k, v] of a.upstreamHeaders) out.push(`   upstream header   ${k}: ${v}`);
  for (const h of a.headersToRemove) out.push(`   removed header    ${h}`);
  for (const [k, v] of a.clientHeaders) out.push(`   client header     ${k}: ${v}`);
  if (a.body) out.push(`   body              ${a.body}`);
  out.push(`   metadata          ${JSON.stringify(a.metadata)}`);
  if (e.decision.detail) out.push(`   detail (log only) ${e.decision.detail}`);
  return out.join('\n');
}
