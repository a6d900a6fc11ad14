// Composition of the approvals feature for one serving process: the store (built once, like the
// limiter, so grants and the Redis connection outlive policy reloads) and the approvers' listener.

import type { Logger } from 'pino';
import type { Closers } from '../app/closers.js';
import type { AuditSink } from '../audit/sink.js';
import type { Config } from '../config/schema.js';
import type { IdentityResolver } from '../identity/resolver.js';
import { mtlsSource } from '../identity/mtls.js';
import type { IdentitySource } from '../identity/result.js';
import { approvalActions } from './actions.js';
import type { ApprovalsConfig } from './config.js';
import { approvalEvents } from './events.js';
import { memoryApprovalStore } from './memory-store.js';
import { redisApprovalStore } from './redis-store.js';
import type { ApprovalStage } from './resolve.js';
import { startApprovalsServer, type ApprovalsServerHandle } from './server.js';

export interface OpenApprovalsOptions {
  readonly logger: Logger;
  readonly closers: Closers;
  /** Read when an event is written: the audit store opens after the stages are built. */
  readonly audit: () => AuditSink | undefined;
  /** How long to wait for Redis before serving anyway; default 5 s. */
  readonly readyWithinMs?: number;
}

/**
 * undefined without an approvals section (then a require_approval rule is a config problem). Waits
 * up to `readyWithinMs` for Redis, as the limiter does: serving before it is connected would answer
 * the first gated checks 503.
 */
export async function openApprovalStage(config: ApprovalsConfig | undefined, options: OpenApprovalsOptions): Promise<ApprovalStage | undefined> {
  if (!config) return undefined;
  const { logger } = options;
  let lastWarned = 0;
  const store = config.redis
    ? redisApprovalStore({
        redis: config.redis,
        // ioredis reports every reconnect attempt; one line a minute says enough.
        onError: (error) => {
          if (Date.now() - lastWarned < 60_000) return;
          lastWarned = Date.now();
          logger.warn({ err: error.message }, 'approvals redis connection error; checks needing a grant answer 503 until it is back');
        },
      })
    : memoryApprovalStore();
  options.closers.push('approvals store', () => store.close());
  const deadline = Date.now() + (options.readyWithinMs ?? 5_000);
  while (!store.ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!store.ready()) logger.warn('approvals redis not reachable at start; checks needing a grant answer 503 until it is');
  return { store, pendingTtlMs: config.pending_ttl, events: approvalEvents({ logger, sink: options.audit }) };
}

export interface StartApprovalsOptions {
  readonly stage: ApprovalStage;
  readonly config: ApprovalsConfig;
  readonly address?: string;
  readonly baseDir: string;
  /** The serving config (current after reloads): its identity.mtls workloads map approver certificates. */
  readonly current: () => { readonly config: Config; readonly identity: IdentityResolver };
  readonly logger: Logger;
  readonly now: () => number;
}

export function startApprovals(options: StartApprovalsOptions): Promise<ApprovalsServerHandle> {
  const { stage, config, current } = options;
  // Certificate only: a SAN from a header or Envoy's principal means nothing on this port.
  let mtls: { workloads: unknown; source: IdentitySource } | undefined;
  const sources = {
    now: options.now,
    jwt: () => current().identity.sources?.find((s) => s.name === 'jwt'),
    mtls: () => {
      const workloads = current().config.identity.mtls?.workloads ?? [];
      if (mtls?.workloads !== workloads) mtls = { workloads, source: mtlsSource({ sources: ['certificate'], xfcc_sanitized_by_proxy: false, workloads }) };
      return mtls.source;
    },
  };
  const actions = approvalActions({ store: stage.store, events: stage.events, config, now: options.now });
  return startApprovalsServer({ config, address: options.address, baseDir: options.baseDir, actions, sources, logger: options.logger });
}
