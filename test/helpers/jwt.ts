// JWT fixtures made at test time: key pairs, signed tokens, and a real HTTP server for JWKS / OIDC.

import { createServer, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKeyLike;
  readonly publicJwk: JWK;
}
type CryptoKeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export async function signingKey(alg: 'ES256' | 'RS256' | 'EdDSA', kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export function jwks(...keys: SigningKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
}

export interface TokenOptions {
  readonly issuer?: string;
  readonly audience?: string;
  readonly subject?: string;
  readonly expiresIn?: number;
  readonly notBefore?: number;
  readonly claims?: JWTPayload;
  readonly now?: number;
}

export async function signToken(key: SigningKey, o: TokenOptions = {}): Promise<string> {
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  const jwt = new SignJWT({ ...o.claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(o.issuer ?? 'https://issuer.test')
    .setAudience(o.audience ?? 'modelgate')
    .setSubject(o.subject ?? 'alice')
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresIn ?? 600));
  if (o.notBefore !== undefined) jwt.setNotBefore(now + o.notBefore);
  return jwt.sign(key.privateKey);
}

export interface JwksServer {
  readonly url: string;
  readonly jwksUri: string;
  readonly discoveryUrl: string;
  /** Number of JWKS fetches served. */
  readonly fetches: () => number;
  setKeys(...keys: SigningKey[]): void;
  /** While down, every request gets a 503. */
  setDown(down: boolean): void;
  /** Slow mode: every answer (503s included) is held this long first; 0 answers at once. */
  setDelay(ms: number): void;
  /** Every /jwks.json request, in arrival order (performance.now() times), for fault tests. */
  readonly requests: () => readonly JwksRequest[];
  close(): Promise<void>;
}

export interface JwksRequest {
  readonly receivedAt: number;
  /** When the answer was written; undefined while a slow answer is still held. */
  answeredAt?: number;
  /** 200, or 503 while down; set when answered. */
  status?: number;
  /** The kids served (empty on a 503); set when answered. */
  kids?: readonly string[];
}

/** A real HTTP server serving /jwks.json and an OIDC discovery document naming it. */
export async function startJwksServer(issuer: string, ...initial: SigningKey[]): Promise<JwksServer> {
  let body = jwks(...initial);
  let kids = initial.map((k) => k.kid);
  let down = false;
  let delayMs = 0;
  let fetches = 0;
  let base = '';
  const log: JwksRequest[] = [];
  const held = new Set<NodeJS.Timeout>();
  // The state (down, keys) is read when the answer is written, as a slow IdP's would be.
  const answer = (url: string | undefined, res: ServerResponse, entry: JwksRequest | undefined) => {
    if (entry) Object.assign(entry, { answeredAt: performance.now(), status: down ? 503 : 200, kids: down ? [] : kids });
    if (down) {
      res.writeHead(503).end();
      return;
    }
    if (url === '/jwks.json') {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else if (url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${base}/jwks.json` }));
    } else {
      res.writeHead(404).end();
    }
  };
  const server: Server = createServer((req, res) => {
    const entry = req.url === '/jwks.json' ? { receivedAt: performance.now() } : undefined;
    if (entry) log.push(entry);
    if (delayMs <= 0) return answer(req.url, res, entry);
    const timer = setTimeout(() => {
      held.delete(timer);
      answer(req.url, res, entry);
    }, delayMs);
    held.add(timer);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    jwksUri: `${base}/jwks.json`,
    discoveryUrl: `${base}/.well-known/openid-configuration`,
    fetches: () => fetches,
    setKeys: (...keys) => {
      body = jwks(...keys);
      kids = keys.map((k) => k.kid);
    },
    setDown: (d) => {
      down = d;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    requests: () => log,
    close: () =>
      new Promise<void>((ok) => {
        for (const timer of held) clearTimeout(timer);
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
