// The compose model-server stand-in, started as its own process: it names the model it was asked
// for and echoes the identity headers it received, which is what the compose walkthrough shows.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SERVER = path.resolve(import.meta.dirname, '../../../examples/model-server/server.mjs');

let child: ChildProcess;
let base: string;

beforeAll(async () => {
  child = spawn(process.execPath, [SERVER], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1' } });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = /listening on (\d+)/.exec(chunk.toString())?.[1];
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  child.kill('SIGTERM');
  if (child.exitCode === null) await once(child, 'exit');
});

describe('examples/model-server/server.mjs', () => {
  it('names the model and verb from the path and echoes identity headers', async () => {
    const res = await fetch(`${base}/v1/models/fraud-detector:predict`, {
      method: 'POST',
      headers: { 'x-modelgate-subject': 'batch-scorer', 'x-modelgate-roles': 'scorer', 'x-request-id': 'r-1' },
      body: '{"features":[1,2]}',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      model: 'fraud-detector',
      verb: 'predict',
      identity: { 'x-modelgate-subject': 'batch-scorer', 'x-modelgate-roles': 'scorer', 'x-request-id': 'r-1' },
      authorization_received: false,
    });
  });

  it('takes the model from an OpenAI-style body and reports a leaked Authorization header', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer leaked' },
      body: JSON.stringify({ model: 'gpt-demo', messages: [] }),
    });
    expect(await res.json()).toMatchObject({ model: 'gpt-demo', verb: 'chat', authorization_received: true });
  });

  it('answers health checks and 404 for paths that name no model', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });
});
