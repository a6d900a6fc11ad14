// Reads a check request's body (Envoy with_request_body) up to a limit; past it, keeps draining
// and marks the body truncated so a prefix of JSON can never decide an allow.

import type { IncomingMessage } from 'node:http';

export interface ReadBody {
  readonly text: string;
  readonly truncated: boolean;
}

export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    req.on('data', (chunk: Buffer) => {
      if (truncated) return;
      const room = maxBytes - kept;
      if (chunk.length > room) {
        truncated = true;
        if (room > 0) chunks.push(chunk.subarray(0, room));
        kept = maxBytes;
        return;
      }
      chunks.push(chunk);
      kept += chunk.length;
    });
    req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), truncated }));
    req.on('error', reject);
    // A proxy that gives up mid-body leaves nothing to answer; settle so the handler does not wait forever.
    req.on('close', () => {
      if (!req.complete) reject(new Error('request closed before its body ended'));
    });
  });
}
