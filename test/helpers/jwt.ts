// JWT fixtures made at test time: key pairs, signed tokens, and a real HTTP server for JWKS / OIDC.

import { createServer, type Server } from 'node:http';
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
  close(): Promise<void>;
}

/** A real HTTP server serving /jwks.json and an OIDC discovery document naming it. */
export async function startJwksServer(issuer: string, ...initial: SigningKey[]): Promise<JwksServer> {
  let body = jwks(...initial);
  let down = false;
  let fetches = 0;
  let base = '';
  const server: Server = createServer((req, res) => {
    if (down) {
      res.writeHead(503).end();
      return;
    }
    if (req.url === '/jwks.json') {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${base}/jwks.json` }));
    } else {
      res.writeHead(404).end();
    }
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
    },
    setDown: (d) => {
      down = d;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
