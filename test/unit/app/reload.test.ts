// Reloads through the one loader: one at a time in call order, a broken file keeps the old config
// (its problems returned, counted and logged), a throw is a failure, never a rejection.

import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { ConfigError } from '../../../src/config/problems.js';
import { reloader, type LoadedStages } from '../../../src/app/reload.js';
import type { StagesLoad } from '../../../src/app/load-stages.js';

const silent = pino({ level: 'silent' });

function fakeLoad(tag: string, warmMs: number, order: string[]): StagesLoad {
  return {
    ok: true,
    loaded: { file: tag, sha256: tag } as unknown as LoadedStages['loaded'],
    stages: {} as LoadedStages['stages'],
    warm: async () => {
      await new Promise((r) => setTimeout(r, warmMs));
      order.push(`warmed ${tag}`);
    },
  };
}

describe('reloader', () => {
  it('applies reloads one at a time, in the order they were asked for', async () => {
    const order: string[] = [];
    const loads = [fakeLoad('first', 30, order), fakeLoad('second', 0, order)];
    const counted: string[] = [];
    const reload = reloader({
      configFile: 'm.yaml',
      load: () => loads.shift()!,
      apply: (next) => order.push(`applied ${next.loaded.file}`),
      metrics: { reload: (r) => counted.push(r) },
      logger: silent,
    });
    const results = await Promise.all([reload(), reload()]);
    expect(results).toEqual([{ ok: true }, { ok: true }]);
    expect(order).toEqual(['warmed first', 'applied first', 'warmed second', 'applied second']);
    expect(counted).toEqual(['success', 'success']);
  });

  it('a broken file or a throw is a failure with its problems; nothing is applied', async () => {
    const applied: string[] = [];
    const counted: string[] = [];
    const outcomes: Array<() => StagesLoad> = [
      () => ({ ok: false, error: new ConfigError('m.yaml', ['m.yaml:3: policy.rules[0].effect: must be one of: allow, deny']) }),
      () => {
        throw new Error('disk on fire');
      },
    ];
    const reload = reloader({
      configFile: 'm.yaml',
      load: () => outcomes.shift()!(),
      apply: (next) => applied.push(next.loaded.file),
      metrics: { reload: (r) => counted.push(r) },
      logger: silent,
    });
    expect(await reload()).toEqual({ ok: false, problems: ['m.yaml:3: policy.rules[0].effect: must be one of: allow, deny'] });
    expect(await reload()).toEqual({ ok: false, problems: ['Error: disk on fire'] });
    expect(applied).toEqual([]);
    expect(counted).toEqual(['failure', 'failure']);
  });
});
