// `modelgate budgets show|reset --subject S | --team T | --org O`: an operator's view of budget
// lines in Redis (used, reserved, remaining, reset), and the way to clear them.

import type { Command } from 'commander';

interface BudgetsOptions {
  readonly subject?: string;
  readonly team?: string;
  readonly org?: string;
  readonly config?: string;
  readonly redis?: string;
  readonly json?: boolean;
}

type Level = 'subject' | 'team' | 'org';

function target(options: BudgetsOptions): { level: Level; entity: string } {
  const given = (['subject', 'team', 'org'] as const).filter((l) => options[l] !== undefined);
  if (given.length !== 1) throw new Error('name exactly one of --subject, --team, --org');
  const level = given[0]!;
  return { level, entity: options[level]! };
}

/** The config's `budgets` and `limits.redis` (fully validated), or the defaults without a file. */
async function sections(options: BudgetsOptions) {
  const { limitsSchema } = await import('../../ratelimit/config.js');
  const { budgetsSchema } = await import('../../budget/config.js');
  if (options.config === undefined) return { limits: limitsSchema.parse({}), budgets: budgetsSchema.parse({}) };
  const { loadConfig } = await import('../../config/load.js');
  const config = loadConfig(options.config).config;
  return { limits: config.limits ?? limitsSchema.parse({}), budgets: config.budgets ?? budgetsSchema.parse({}) };
}

async function withRedis<T>(options: BudgetsOptions, use: (client: import('../../ratelimit/redis-connection.js').LimiterClient, s: Awaited<ReturnType<typeof sections>>) => Promise<T>): Promise<T> {
  const s = await sections(options);
  const url = options.redis ?? s.limits.redis.url;
  if (url === undefined) throw new Error('no Redis: pass --redis URL or set limits.redis.url (in-memory budgets live inside the server process)');
  const { connectRedis } = await import('../../ratelimit/redis-connection.js');
  let lastError: Error | undefined;
  const client = connectRedis({ url, timeoutMs: 5_000, tlsCaFile: s.limits.redis.tls_ca_file, onError: (e) => (lastError = e) });
  try {
    const deadline = Date.now() + 5_000;
    while (client.status !== 'ready') {
      if (Date.now() > deadline) throw new Error(`cannot reach redis: ${lastError?.message ?? client.status}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return await use(client, s);
  } finally {
    client.disconnect();
  }
}

function common(command: Command): Command {
  return command
    .option('--subject <subject>', 'qualified subject, as in the decision log (api_key:…, jwt:<issuer name>:…, mtls:…)')
    .option('--team <team>', 'team (the identity attribute budgets.team_attribute)')
    .option('--org <org>', 'org (the identity attribute budgets.org_attribute)')
    .option('--config <file>', 'config file (for limits.redis and the budget definitions)')
    .option('--redis <url>', 'Redis URL, overriding limits.redis.url');
}

export function register(program: Command): void {
  const budgets = program.command('budgets').description('inspect or clear token and money budgets in Redis');

  common(budgets.command('show'))
    .description('print used, reserved, remaining and reset per budget')
    .option('--json', 'print JSON')
    .action(async (options: BudgetsOptions) => {
      const { level, entity } = target(options);
      const { inspectBudgets } = await import('../../budget/inspect.js');
      await withRedis(options, async (client, s) => {
        const [seconds = '0', micros = '0'] = (await client.time()).map(String);
        const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
        const views = await inspectBudgets(client, s.limits.redis.key_prefix, s.budgets, level, entity, nowMs);
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ level, entity, budgets: views.map((v) => ({ ...v, reset: new Date(v.resetMs).toISOString() })) })}\n`);
          return;
        }
        const lines = [`${level} ${entity}`];
        if (views.length === 0) lines.push(`  no ${level}-level budgets configured`);
        for (const v of views) {
          lines.push(`  ${v.budgetId}: used ${v.used}, reserved ${v.reserved}, remaining ${v.remaining} of ${v.limit} ${v.unit}, resets ${new Date(v.resetMs).toISOString()}`);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });

  common(budgets.command('reset'))
    .description("delete a subject's, team's or org's used counters and open reservations")
    .action(async (options: BudgetsOptions) => {
      const { level, entity } = target(options);
      const { resetBudgets } = await import('../../budget/inspect.js');
      await withRedis(options, async (client, s) => {
        const removed = await resetBudgets(client, s.limits.redis.key_prefix, level, entity);
        process.stdout.write(`reset ${level} ${entity}: ${removed} key${removed === 1 ? '' : 's'} removed\n`);
      });
    });
}
