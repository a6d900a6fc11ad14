// Answer checks for the end-to-end rows, through Envoy: the allowed request must get 200, each deny
// sample its refusal, before and after the row's load. A fast wrong answer never counts as a result.

import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Shot } from './load.js';

export interface Probe {
  readonly name: string;
  readonly shot: Shot;
  /** Statuses that count as right (a forged token: 401 from modelgate and jwt_authn, 403 from OPA). */
  readonly expect: readonly number[];
}

export interface Checked {
  checked: number;
  wrong: string[];
}

/** Sends each probe `times` times over HTTP/1.1; lists every answer that was not expected. */
export async function checkAnswers(port: number, probes: readonly Probe[], times: number): Promise<Checked> {
  const out: Checked = { checked: 0, wrong: [] };
  for (const probe of probes) {
    for (let i = 0; i < times; i++) {
      const status = await send(port, probe.shot).catch((e: Error) => `error ${e.message}`);
      out.checked++;
      if (typeof status !== 'number' || !probe.expect.includes(status)) out.wrong.push(`${probe.name}: got ${status}, want ${probe.expect.join('|')}`);
    }
  }
  return out;
}

export function merge(a: Checked, b: Checked): Checked {
  return { checked: a.checked + b.checked, wrong: [...a.wrong, ...b.wrong] };
}

function send(port: number, shot: Shot): Promise<number> {
  const body = shot.bodyFile ? readFileSync(shot.bodyFile) : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: shot.path, method: body ? 'POST' : 'GET', headers: { ...shot.headers, ...(body ? { 'content-length': body.length } : {}) }, agent: false, timeout: 3000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
