// Listen addresses: the one place an address is split, judged loopback or not, and a node:net /
// node:http server is bound to it (the admin server and the HTTP authorization server alike).

import { isIP, type AddressInfo, type Server } from 'node:net';

/**
 * True for an address only this host can reach: a unix socket, `localhost`, 127.0.0.0/8 or ::1.
 * Anything else (0.0.0.0, ::, a host name, an interface address) is reachable from the network.
 * The one test for the Check ports' exposure warning and the audit receiver's exposure error.
 */
export function isLoopbackAddress(address: string): boolean {
  if (address.startsWith('unix:') || address.startsWith('unix-abstract:')) return true;
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(address);
  const host = bracketed ? bracketed[1]! : address.replace(/:\d*$/, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && host === '::1';
}

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
