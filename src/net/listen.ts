// Binding a node:net / node:http server to a configured `host:port`: the one place an address is
// split and a listen is awaited, for the admin server and the HTTP authorization server alike.

import type { AddressInfo, Server } from 'node:net';

/** `127.0.0.1:9192`, `[::1]:9192`, `localhost:0`; the schema already checked the shape. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}

/**
 * Listens on `address` and resolves with the bound port (port 0 picks a free one). Rejects with the
 * system error (EADDRINUSE…) when the bind fails, leaving no listener behind; app/listen-error.ts
 * turns that into the one line `serve` prints.
 */
export function listenOn(server: Server, address: string): Promise<number> {
  const { host, port } = splitAddress(address);
  return new Promise<number>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok((server.address() as AddressInfo).port);
    });
  });
}
