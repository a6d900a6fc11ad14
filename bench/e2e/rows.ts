// The end-to-end rows: what sits behind Envoy's ext_authz (or nothing), how to start it, and which
// answers prove it decides correctly. Every row is the same Envoy, listener and direct_response route.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fixtures } from '../fixtures.js';
import { startOpaEnvoy } from '../peers/opa.js';
import { freePort, startCeiling, startModelgate } from '../procs.js';
import { EXT_AUTHZ, envoyConfig, jwtRbacFilters } from './envoy-config.js';
import { startEnvoy, type BenchEnvoy } from './envoy.js';
import type { Shot } from './load.js';
import type { RedisServer } from '../redis.js';
import type { Probe } from './verify.js';

export interface Context {
  readonly envoyBin: string;
  readonly opaBin: string;
  readonly work: string;
  readonly fx: Fixtures;
  readonly redis: RedisServer;
}

export interface RowSpec {
  readonly id: string;
  readonly label: string;
  /** Rows whose server allows everything (no deny to check). */
  readonly allowsAll?: boolean;
  start(ctx: Context): Promise<Stack>;
}

export interface Stack {
  readonly envoy: BenchEnvoy;
  /** pid → process name, for CPU per request. */
  readonly pids: ReadonlyMap<number, string>;
  stop(): Promise<void>;
}

type Stoppable = { stop(): Promise<void>; proc: { pid?: number } };

async function withAuthz(ctx: Context, id: string, server: Stoppable | undefined, authzPort: number | undefined, filters: object[], names: Record<string, Stoppable | undefined>): Promise<Stack> {
  const [port, adminPort] = [await freePort(), await freePort()];
  try {
    const envoy = await startEnvoy(ctx.envoyBin, ctx.work, id, envoyConfig({ port, adminPort, filters, authzPort }), port, adminPort);
    const pids = new Map<number, string>([[envoy.proc.pid!, 'envoy']]);
    for (const [name, p] of Object.entries(names)) if (p?.proc.pid) pids.set(p.proc.pid, name);
    return {
      envoy,
      pids,
      async stop() {
        await envoy.stop();
        await server?.stop();
      },
    };
  } catch (error) {
    await server?.stop();
    throw error;
  }
}

/**
 * Row (b), (c) or (c2); `batch` pins `limits.redis.batch` ((c) off, (c2) on, whatever the default).
 * `nodeFlags` (e.g. --cpu-prof) only for the profile run, never for a measured row.
 */
export const modelgate = (redis: boolean, nodeFlags?: string[], batch?: boolean) => async (ctx: Context) => {
  const adminPort = await freePort();
  let configFile = ctx.fx.configFile(adminPort, redis ? ctx.redis.url : undefined);
  if (batch !== undefined) {
    const yaml = readFileSync(configFile, 'utf8');
    if (!yaml.includes('timeout_ms: 100 }')) throw new Error(`${configFile}: no redis section to add batch to`);
    configFile = configFile.replace(/\.yaml$/, `-batch-${batch}.yaml`);
    writeFileSync(configFile, yaml.replace('timeout_ms: 100 }', `timeout_ms: 100, batch: ${batch} }`));
  }
  // One worker: Envoy (one worker thread) opens one HTTP/2 connection to the cluster, and a
  // cluster of Node workers balances connections, so a second worker would sit idle.
  const server = await startModelgate({ configFile, workers: 1, probe: ctx.fx.payloads.no_credential, nodeFlags });
  const name = redis ? (batch ? 'modelgate-redis-batch' : 'modelgate-redis') : 'modelgate';
  return withAuthz(ctx, name, server, server.port, [EXT_AUTHZ], { modelgate: server, ...(redis ? { redis: ctx.redis } : {}) });
};

export const ROWS: readonly RowSpec[] = [
  { id: 'a', label: 'Envoy, no ext_authz', allowsAll: true, start: (ctx) => withAuthz(ctx, 'bare', undefined, undefined, [], {}) },
  { id: 'b', label: 'ext_authz → modelgate (JWT cached, RBAC, memory limiter)', start: modelgate(false) },
  { id: 'c', label: 'ext_authz → modelgate (same, Redis limiter)', start: modelgate(true, undefined, false) },
  { id: 'c2', label: 'ext_authz → modelgate (same, Redis limiter, batched)', start: modelgate(true, undefined, true) },
  {
    id: 'd',
    label: 'ext_authz → no-op Check server (grpc-js)',
    allowsAll: true,
    async start(ctx) {
      const server = await startCeiling(1, ctx.fx.payloads.no_credential);
      return withAuthz(ctx, 'noop', server, server.port, [EXT_AUTHZ], { 'no-op': server });
    },
  },
  {
    id: 'e',
    label: 'ext_authz → OPA-Envoy (same policy in Rego)',
    async start(ctx) {
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const server = await startOpaEnvoy({ bin: ctx.opaBin, dir: ctx.work, jwks: jwks(ctx), grpcPort, httpPort });
      return withAuthz(ctx, 'opa', server, grpcPort, [EXT_AUTHZ], { 'opa-envoy': server });
    },
  },
  { id: 'f', label: 'Envoy jwt_authn + rbac (native filters)', start: (ctx) => withAuthz(ctx, 'native', undefined, undefined, jwtRbacFilters(jwks(ctx)), {}) },
];

const jwks = (ctx: Context) => readFileSync(join(ctx.fx.dir, 'jwks.json'), 'utf8');

/** The Bearer header of a fixture payload (the tokens bench/fixtures.ts signed). */
const bearer = (ctx: Context, name: 'jwt_es256' | 'bad_signature') => ctx.fx.payloads[name].request.attributes!.request!.http!.headers!['authorization']!;

/** The measured request: an analyst's prediction call, allowed by every policy. */
export function allowedShot(ctx: Context): Shot {
  const bodyFile = join(ctx.work, 'predict.json');
  writeFileSync(bodyFile, '{"inputs":[[0.1,0.7,3.2,1.0]]}');
  return { path: '/v1/models/fraud-detector:predict', headers: { authorization: bearer(ctx, 'jwt_es256'), 'content-type': 'application/json' }, bodyFile };
}

export function probes(ctx: Context, row: RowSpec): Probe[] {
  const allowed = allowedShot(ctx);
  const ok: Probe = { name: 'allowed', shot: allowed, expect: [200] };
  if (row.allowsAll) return [ok];
  return [
    ok,
    // A valid token for a model the analyst role may not call: the policy's deny.
    { name: 'forbidden model', shot: { ...allowed, path: '/v1/models/secret-model:predict' }, expect: [403] },
    { name: 'debug header on fraud-*', shot: { ...allowed, headers: { ...allowed.headers, 'x-debug': '1' } }, expect: [403] },
    { name: 'forged signature', shot: { ...allowed, headers: { ...allowed.headers, authorization: bearer(ctx, 'bad_signature') } }, expect: [401, 403] },
    { name: 'no credential', shot: { ...allowed, headers: { 'content-type': 'application/json' } }, expect: [401, 403] },
  ];
}
