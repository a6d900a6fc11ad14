// An upstream for end-to-end tests: records every request it receives (method, path, every header
// as sent, body) and answers 200 with that record as JSON, so a test sees exactly what Envoy forwarded.

import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly method: string;
  readonly path: string;
  /** Node's merged view: lower-case names. */
  readonly headers: IncomingHttpHeaders;
  /** Every header line as it arrived, duplicates kept: [name, value] pairs, lower-cased names. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

export interface EchoUpstream {
  readonly port: number;
  readonly received: Received[];
  /** Every value a header arrived with, across duplicate lines. */
  valuesOf(r: Received, name: string): string[];
  close(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawHeaders: Array<[string, string]> = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
      const record: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, rawHeaders, body: Buffer.concat(chunks).toString('utf8') };
      received.push(record);
      const body = JSON.stringify({ upstream: 'echo', ...record });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    valuesOf: (r, name) => r.rawHeaders.filter(([n]) => n === name).map(([, v]) => v),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
