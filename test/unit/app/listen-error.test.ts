// A bind failure becomes one line naming the address, whichever library reported it.

import { describe, expect, it } from 'vitest';
import { ListenError, listening } from '../../../src/app/listen-error.js';

describe('listening', () => {
  it('names the address and the plain cause for a node:net error', async () => {
    const error = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:9192'), { code: 'EADDRINUSE' });
    const failed = listening('admin', '127.0.0.1:9192', Promise.reject(error));
    await expect(failed).rejects.toBeInstanceOf(ListenError);
    await expect(failed).rejects.toMatchObject({
      message: 'cannot listen on 127.0.0.1:9192 (admin): address already in use',
      code: 'EADDRINUSE',
      cause: error,
    });
  });

  it('finds the code in a grpc-js message, which carries none of its own', async () => {
    const error = new Error('No address added out of total 1 resolved errors: [listen EACCES: permission denied 0.0.0.0:91]');
    await expect(listening('gRPC', '0.0.0.0:91', Promise.reject(error))).rejects.toThrow('cannot listen on 0.0.0.0:91 (gRPC): permission denied');
  });

  it('keeps the message of an error it does not know', async () => {
    await expect(listening('gRPC', 'x:1', Promise.reject(new Error('bad certificate')))).rejects.toThrow('cannot listen on x:1 (gRPC): bad certificate');
  });

  it('passes a started server through untouched', async () => {
    await expect(listening('admin', '127.0.0.1:0', Promise.resolve(42))).resolves.toBe(42);
  });
});
