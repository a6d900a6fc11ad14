// One check with budgets or leases as one call of TOKEN_BUCKET_ADMIT_LUA: the buckets' keys and
// arguments as the single script takes them, then the admission's (admit-script.ts ADMIT_LUA).

import type { Plan } from '../ratelimit/compile.js';
import { evalAdmitScript, type LimiterClient } from '../ratelimit/redis-connection.js';
import type { TakeResult } from '../ratelimit/take-tokens.js';
import { parseScriptReply } from '../ratelimit/token-bucket-script.js';
import type { Admission } from './admission.js';

/** The admission's keys and arguments, after the buckets' (admit-script.ts ADMIT_LUA). */
export function admissionScriptParts(a: Admission): { keys: string[]; args: string[] } {
  const keys = [a.recordKey];
  const args = [String(a.nowMs), a.member, String(a.expiresAt), String(a.recordTtlMs), JSON.stringify(a.record), String(a.lines.length), String(a.leases.length)];
  for (const l of a.lines) {
    keys.push(l.usedKey, l.reservedKey, l.expiryKey);
    args.push(String(l.limit), String(l.amount), l.shadow ? '1' : '0', String(l.slice), String(l.spec.kind === 'rolling' ? l.spec.slices : 0), String(l.usedTtlMs));
  }
  for (const c of a.leases) {
    keys.push(c.key);
    args.push(String(c.max), c.shadow ? '1' : '0');
  }
  return { keys, args };
}

/** One check with budgets or leases in one script call (TOKEN_BUCKET_ADMIT_LUA). */
export async function runAdmitScript(
  client: LimiterClient,
  plan: Plan,
  admission: Admission,
  options: { readonly nowMs: number | undefined; readonly scale: number; readonly staticArgs: readonly string[] },
): Promise<TakeResult> {
  const args: string[] = [options.nowMs === undefined ? '' : String(options.nowMs), String(options.scale), ...options.staticArgs, String(plan.charges.length)];
  for (const c of plan.charges) args.push(String(c.capacity), String(c.rate), String(c.periodMs), String(c.cost), c.shadow ? '1' : '0');
  const keys = [plan.keys.block, plan.keys.strikes, plan.keys.violations, ...plan.charges.map((c) => c.key)];
  const parts = admissionScriptParts(admission);
  const reply = await evalAdmitScript(client, [...keys, ...parts.keys], [...args, ...parts.args]);
  return parseScriptReply(reply, plan.charges.length);
}
