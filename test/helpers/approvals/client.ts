// A real HTTPS/HTTP client for the approvals endpoint in tests, with a JWT or a client certificate.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Caller {
  readonly token?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface EndpointReply {
  readonly status: number;
  readonly body: Record<string, any>;
}

export function approvalsEndpoint(base: string, ca?: string) {
  return (method: 'GET' | 'POST', path: string, caller: Caller, body?: string): Promise<EndpointReply> =>
    new Promise((done, fail) => {
      const url = new URL(path, base);
      const headers: Record<string, string> = {};
      if (caller.token) headers.authorization = `Bearer ${caller.token}`;
      const secure = url.protocol === 'https:';
      const send = secure ? httpsRequest : httpRequest;
      const req = send(url, { method, headers, ...(secure ? { ca, cert: caller.cert, key: caller.key } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any> }));
      });
      req.on('error', fail);
      req.end(body);
    });
}
