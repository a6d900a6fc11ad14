// `modelgate limits show|reset SUBJECT`: an operator's view of one caller's rate-limit state in
// Redis, and the way to clear it after an incident.

import type { Command } from 'commander';
import type { LimitsConfig } from '../../ratelimit/config.js';
import type { SubjectSnapshot } from '../../ratelimit/inspect.js';

interface LimitsOptions {
  readonly config?: string;
  readonly redis?: string;
  readonly json?: boolean;
}

/** The `limits` section from the config file (fully validated), or the defaults without one. */
async function limitsSection(options: LimitsOptions) {
  const { limitsSchema } = await import('../../ratelimit/config.js');
  if (options.config === undefined) return limitsSchema.parse({});
  const { loadConfig } = await import('../../config/load.js');
  return loadConfig(options.config).config.limits ?? limitsSchema.parse({});
}

/** Runs `use` with a connected client, always disconnecting, with errors as exit code 1. */
async function withRedis(options: LimitsOptions, use: (ctx: Awaited<ReturnType<typeof open>>) => Promise<void>): Promise<void> {
  const ctx = await open(options);
  try {
    await use(ctx);
  } finally {
    ctx.client.disconnect();
  }
}

async function open(options: LimitsOptions) {
  const limits = await limitsSection(options);
  const url = options.redis ?? limits.redis.url;
  if (url === undefined) throw new Error('no Redis: pass --redis URL or set limits.redis.url (in-memory limits live inside the server process)');
  const { connectRedis } = await import('../../ratelimit/redis-connection.js');
  let lastError: Error | undefined;
  // An operator tool can wait longer than a check; the client fails fast while not connected.
  const client = connectRedis({ url, timeoutMs: 5_000, tlsCaFile: limits.redis.tls_ca_file, onError: (e) => (lastError = e) });
  const deadline = Date.now() + 5_000;
  while (client.status !== 'ready') {
    if (Date.now() > deadline) {
      client.disconnect();
      throw new Error(`cannot reach redis: ${lastError?.message ?? client.status}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { client, limits };
}

type PeriodMs = (typeof import('../../ratelimit/config.js'))['PERIOD_MS'];

/**
 * Buckets are keyed by the qualified subject (`api_key:…`, `jwt:<issuer name>:…`, `mtls:…`). A bare
 * one only finds keys written before subjects were qualified, so say so rather than show nothing.
 */
async function warnIfUnqualified(subject: string): Promise<void> {
  const { splitSubject } = await import('../../identity/subject.js');
  if (splitSubject(subject).source !== '') return;
  process.stderr.write(
    `note: '${subject}' names no source; checks key buckets by the qualified subject, as in the decision log: ` +
      `api_key:${subject}, jwt:<issuer name>:${subject} or mtls:${subject}\n`,
  );
}

function formatShow(subject: string, s: SubjectSnapshot, limits: LimitsConfig, PERIOD_MS: PeriodMs): string {
  const lines = [`subject ${subject}`];
  if (s.blockedUntilMs !== undefined && s.blockedUntilMs > s.redisNowMs) {
    lines.push(`  blocked for ${Math.ceil((s.blockedUntilMs - s.redisNowMs) / 1000)} s more`);
  }
  if (s.strikes !== undefined) lines.push(`  blocks so far: ${s.strikes}`);
  if (s.violations !== undefined) lines.push(`  denials in current window: ${s.violations}`);
  if (s.buckets.length === 0) lines.push('  no buckets stored (all full)');
  for (const b of s.buckets) {
    const config = limits.buckets.find((c) => c.id === b.bucketId);
    // Refill to Redis's now so the operator sees what the next check would see.
    const tokens = config === undefined ? b.tokens : Math.min(config.burst, b.tokens + (Math.max(0, s.redisNowMs - b.updatedMs) * config.rate) / PERIOD_MS[config.per]);
    const of = config === undefined ? '' : ` of ${config.burst} (${config.rate}/${config.per})`;
    lines.push(`  ${b.bucketId}${b.model === undefined ? '' : ` [${b.model}]`}: ${tokens.toFixed(2)} tokens${of}, forgotten in ${Math.ceil(b.ttlMs / 1000)} s`);
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  const limits = program.command('limits').description("inspect or clear a subject's rate-limit state in Redis");
  const common = (command: Command) =>
    command
      .argument('<subject>', 'qualified subject, as in the decision log (api_key:…, jwt:<issuer name>:…, mtls:…)')
      .option('--config <file>', 'config file (for limits.redis and the bucket definitions)')
      .option('--redis <url>', 'Redis URL, overriding limits.redis.url');

  common(limits.command('show'))
    .description("print a subject's buckets and block state")
    .option('--json', 'print JSON')
    .action(async (subject: string, options: LimitsOptions) => {
      await warnIfUnqualified(subject);
      const { inspectSubject } = await import('../../ratelimit/inspect.js');
      const { PERIOD_MS } = await import('../../ratelimit/config.js');
      await withRedis(options, async ({ client, limits: section }) => {
        const snapshot = await inspectSubject(client, section.redis.key_prefix, subject);
        process.stdout.write(options.json ? `${JSON.stringify({ subject, ...snapshot })}\n` : formatShow(subject, snapshot, section, PERIOD_MS));
      });
    });

  common(limits.command('reset'))
    .description("delete a subject's buckets, block and violation count")
    .action(async (subject: string, options: LimitsOptions) => {
      await warnIfUnqualified(subject);
      const { resetSubject } = await import('../../ratelimit/inspect.js');
      await withRedis(options, async ({ client, limits: section }) => {
        const removed = await resetSubject(client, section.redis.key_prefix, subject);
        process.stdout.write(`reset ${subject}: ${removed} key${removed === 1 ? '' : 's'} removed\n`);
      });
    });
}
