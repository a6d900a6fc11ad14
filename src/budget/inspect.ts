// Operator views of budget lines in Redis (`modelgate budgets show|reset`): used, reserved,
// remaining and reset per budget of one subject, team or org, under whichever root tag holds them.

import type { Cluster, Redis } from 'ioredis';
import { escapeKeyPart } from '../ratelimit/keys.js';
import type { BudgetsConfig } from './config.js';
import { counterAt, periodSpec } from './periods.js';
import type { Level } from './admission.js';
import { scanKeys } from '../ratelimit/scan-keys.js';

const LEVEL_CODE: Record<Level, string> = { subject: 's', team: 't', org: 'o' };

export interface BudgetLineView {
  readonly budgetId: string;
  readonly unit: string;
  readonly limit: number;
  readonly used: number;
  readonly reserved: number;
  readonly remaining: number;
  /** Epoch ms when the used counter next drops (period end, or the next slice for rolling windows). */
  readonly resetMs: number;
}

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** Every key of the entity's budget lines, on every master (one root tag per key group). */
function lineKeys(client: Redis | Cluster, prefix: string, level: Level, entity: string): Promise<string[]> {
  return scanKeys(client, [`${escapeGlob(prefix)}{*}:bg:*:${LEVEL_CODE[level]}:${escapeGlob(escapeKeyPart(entity))}:*`]);
}

/** The line bases (`<tag>:bg:<id>:<level>:<entity>`) of one budget among the keys found. */
function basesOf(keys: readonly string[], budgetId: string, level: Level, entity: string): string[] {
  const tail = `:bg:${budgetId}:${LEVEL_CODE[level]}:${escapeKeyPart(entity)}`;
  const bases = new Set<string>();
  for (const key of keys) {
    const at = key.indexOf(`}${tail}:`);
    if (at >= 0) bases.add(key.slice(0, at + 1 + tail.length));
  }
  return [...bases];
}

export async function inspectBudgets(client: Redis | Cluster, prefix: string, config: BudgetsConfig, level: Level, entity: string, nowMs: number): Promise<BudgetLineView[]> {
  const keys = await lineKeys(client, prefix, level, entity);
  const views: BudgetLineView[] = [];
  for (const b of config.budgets.filter((x) => x.level === level)) {
    const spec = periodSpec(b);
    const counter = counterAt(spec, nowMs);
    let used = 0;
    let reserved = 0;
    for (const base of basesOf(keys, b.id, level, entity)) {
      if (spec.kind === 'calendar') used += Number((await client.get(`${base}:${counter.suffix}`)) ?? 0);
      else {
        const slices = await client.hgetall(`${base}:w`);
        for (const [idx, amount] of Object.entries(slices)) if (Number(idx) >= counter.slice - spec.slices) used += Number(amount);
      }
      // Only reservations still inside their TTL: expired ones are swept at the next admission.
      const open = await client.zrangebyscore(`${base}:z`, `(${nowMs}`, '+inf');
      if (open.length > 0) for (const amount of await client.hmget(`${base}:r`, ...open)) reserved += Number(amount ?? 0);
    }
    views.push({ budgetId: b.id, unit: b.unit, limit: b.limit, used, reserved, remaining: Math.max(0, b.limit - used - reserved), resetMs: counter.resetMs });
  }
  return views;
}

/** Deletes the entity's used counters and open reservations of every budget; returns how many keys went. */
export async function resetBudgets(client: Redis | Cluster, prefix: string, level: Level, entity: string): Promise<number> {
  let removed = 0;
  // One DEL per key: keys of different root tags live in different slots.
  for (const key of await lineKeys(client, prefix, level, entity)) removed += await client.del(key);
  return removed;
}
