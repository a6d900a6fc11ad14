// Batches the Redis checks of one event-loop turn into one script call (`limits.redis.batch`).
//
// Why: every check was one EVALSHA; with many checks in flight each paid ioredis's command object,
// its own reply parse, and Redis's per-command dispatch. Checks that arrive in the same turn (the
// poll phase hands us every request read from the socket before `setImmediate` runs) go out as
// one call of TOKEN_BUCKET_BATCH_LUA, which decides them in arrival order with the same `take`
// function as the single script: each check is still one atomic, all-or-none decision (the call
// runs atomically, and no check's answer depends on the checks after it).
// Standalone Redis only: on a Cluster the keys of different subjects live in different slots, so
// the limiter keeps one script per check there.

import type { Redis } from 'ioredis';
import type { Plan } from './compile.js';
import type { TakeResult } from './take-tokens.js';
import { parseScriptReply, TOKEN_BUCKET_BATCH_LUA } from './token-bucket-script.js';

/** Checks per script call at most: bounds how long one call holds Redis (a few µs per check). */
export const MAX_BATCH = 128;

interface Queued {
  readonly plan: Plan;
  readonly nowMs: number | undefined;
  readonly scale: number;
  readonly resolve: (result: TakeResult) => void;
  readonly reject: (error: Error) => void;
}

type BatchCommand = (numKeys: number, ...keysAndArgs: string[]) => Promise<unknown[]>;

/** A check's own error inside a batch (its key held another type): a Redis error, for its check only. */
export class BatchedCheckError extends Error {
  override readonly name = 'BatchedCheckError';
}

export interface ScriptBatcherOptions {
  /** TTL padding, idle cap and block policy: `staticScriptArgs`. */
  readonly staticArgs: readonly string[];
  /** Each script call with the number of checks in it; metrics and tests. */
  readonly onBatch?: ((checks: number) => void) | undefined;
}

export class ScriptBatcher {
  #queue: Queued[] = [];
  #scheduled = false;
  readonly #command: BatchCommand;
  readonly #flush = () => this.#send();

  constructor(private readonly client: Redis, private readonly options: ScriptBatcherOptions) {
    // No fixed key count: ioredis then takes it as the first argument (EVALSHA, EVAL on NOSCRIPT).
    const commands = client as unknown as Record<string, BatchCommand | undefined>;
    if (commands.modelgateTakeBatch === undefined) client.defineCommand('modelgateTakeBatch', { lua: TOKEN_BUCKET_BATCH_LUA });
    this.#command = commands.modelgateTakeBatch!;
  }

  /** Resolves like `runTakeScript` for this check alone; rejects with the call's or the check's own error. */
  take(plan: Plan, nowMs: number | undefined, scale: number): Promise<TakeResult> {
    return new Promise<TakeResult>((resolve, reject) => {
      this.#queue.push({ plan, nowMs, scale, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(this.#flush);
    });
  }

  #send(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (let i = 0; i < queue.length; i += MAX_BATCH) this.#call(queue.slice(i, i + MAX_BATCH));
  }

  #call(checks: Queued[]): void {
    const keys: string[] = [];
    const args: string[] = [...this.options.staticArgs];
    for (const { plan, nowMs, scale } of checks) {
      keys.push(plan.keys.block, plan.keys.strikes, plan.keys.violations);
      args.push(nowMs === undefined ? '' : String(nowMs), String(scale), String(plan.charges.length));
      for (const c of plan.charges) {
        keys.push(c.key);
        args.push(String(c.capacity), String(c.rate), String(c.periodMs), String(c.cost), c.shadow ? '1' : '0');
      }
    }
    this.options.onBatch?.(checks.length);
    this.#command.call(this.client, keys.length, ...keys, ...args).then(
      (replies) => settle(checks, replies),
      (error: Error) => {
        for (const check of checks) check.reject(error);
      },
    );
  }
}

/** Hands each check its own reply: a decision, or its own error; never another check's. */
function settle(checks: readonly Queued[], replies: unknown[]): void {
  checks.forEach((check, i) => {
    const reply = replies[i];
    if (!Array.isArray(reply)) return check.reject(new BatchedCheckError('batched script returned no reply for this check'));
    if (Number(reply[0]) === -1) return check.reject(new BatchedCheckError(String(reply[1])));
    try {
      check.resolve(parseScriptReply(reply, check.plan.charges.length));
    } catch (error) {
      check.reject(error as Error);
    }
  });
}
