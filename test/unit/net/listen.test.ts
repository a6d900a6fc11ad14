// The one listen helper of the admin and HTTP authorization servers: address forms, port 0, and a
// busy port rejected with the system error and no listener left behind.

import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { listenOn, splitAddress } from '../../../src/net/listen.js';

describe('splitAddress', () => {
  it.each([
    ['127.0.0.1:9192', '127.0.0.1', 9192],
    ['[::1]:9192', '::1', 9192],
    ['localhost:0', 'localhost', 0],
    ['0.0.0.0:8080', '0.0.0.0', 8080],
  ])('%s', (address, host, port) => {
    expect(splitAddress(address)).toEqual({ host, port });
  });
});

describe('listenOn', () => {
  it('resolves with the bound port (port 0 picks a free one)', async () => {
    const server = createServer();
    const port = await listenOn(server, '127.0.0.1:0');
    expect(port).toBeGreaterThan(0);
    expect(server.listening).toBe(true);
    await new Promise((done) => server.close(done));
  });

  it('rejects with EADDRINUSE on a busy port, and the server is not listening', async () => {
    const holder = createServer();
    const port = await listenOn(holder, '127.0.0.1:0');
    const second = createServer();
    await expect(listenOn(second, `127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(second.listening).toBe(false);
    await new Promise((done) => holder.close(done));
  });
});
