// Schema of the `budgets` config section: token and money budgets per subject, team and org,
// model prices, the admission estimate, and concurrency leases (docs/budgets.md).

import { z } from 'zod';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "." and "-" only');
const globs = z.array(z.string().min(1)).min(1);
/** Integer micro-units (1e-6 of the currency) or token counts: integers only, so no float drift. */
const count = z.number().int('whole numbers only: money is in integer micro-units (1e-6), prices in micro-units per million tokens').nonnegative().max(Number.MAX_SAFE_INTEGER);

export const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90s`, `30m`, `24h`, `7d` → milliseconds; undefined when malformed. */
export function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m === null) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const budgetSchema = z
  .strictObject({
    id,
    /** Whose budget: the caller (subject), or the team / org named by an identity attribute. */
    level: z.enum(['subject', 'team', 'org']),
    /** `tokens` = input + output; `money` in integer micro-units priced by `prices`. */
    unit: z.enum(['tokens', 'input_tokens', 'output_tokens', 'money']),
    limit: count,
    /** Calendar period in UTC (weeks start on Monday); exclusive with `rolling`. */
    period: z.enum(['minute', 'hour', 'day', 'week', 'month']).optional(),
    /** Rolling window (`24h`, `7d`), summed over `slices` fixed slices. */
    rolling: z.string().regex(DURATION, 'expected a duration like 90s, 30m, 24h or 7d').optional(),
    slices: z.number().int().min(1).max(1_000).default(60),
    /** Model globs (picomatch, case-insensitive); absent: every model. */
    models: globs.optional(),
    /** Count and report, never deny. */
    shadow: z.boolean().default(false),
    /** Redis down: `fail_closed` answers limiter_unavailable; `fail_open` charges a per-replica memory ledger. */
    on_redis_error: z.enum(['fail_open', 'fail_closed']).default('fail_closed'),
  })
  .refine((b) => (b.period === undefined) !== (b.rolling === undefined), { message: 'exactly one of period, rolling is required' });

const priceSchema = z.strictObject({
  /** Model globs this price applies to; the first matching entry wins. */
  models: globs,
  /** Integer micro-units per million tokens. */
  input: count,
  output: count,
  /** Cached input tokens; default: the input price. */
  cached_input: count.optional(),
  /** The model's largest completion; `max_tokens` above it is clamped, a missing one uses it. */
  max_output_tokens: z.number().int().positive().optional(),
});

const concurrencySchema = z.strictObject({
  id,
  /** What is counted: in-flight requests per subject, per model, or per subject and model (within the check's budget root). */
  per: z.enum(['subject', 'model', 'subject_model']),
  max_in_flight: z.number().int().positive().max(1_000_000),
  models: globs.optional(),
  shadow: z.boolean().default(false),
  on_redis_error: z.enum(['fail_open', 'fail_closed']).default('fail_closed'),
});

export const budgetsSchema = z
  .strictObject({
    team_attribute: z.string().min(1).default('team'),
    org_attribute: z.string().min(1).default('org'),
    /** How long an unsettled reservation holds budget: set it to your route timeout (Envoy's default is 15 s). */
    reservation_ttl_ms: z.number().int().positive().max(86_400_000).default(15_000),
    estimate: z
      .strictObject({
        /** Prompt bytes (UTF-8) per estimated token. */
        bytes_per_token: z.number().positive().max(64).default(4),
        /** Tokens added per chat message (role and framing). */
        per_message_tokens: z.number().int().nonnegative().max(1_000).default(4),
        /** Output tokens assumed when the request has no max_tokens and the model no max_output_tokens. */
        default_max_output_tokens: z.number().int().positive().default(4_096),
      })
      .prefault({}),
    prices: z.array(priceSchema).default([]),
    budgets: z.array(budgetSchema).default([]),
    concurrency: z.array(concurrencySchema).default([]),
  })
  .superRefine((section, ctx) => {
    const seen = new Set<string>();
    const unique = (what: string, list: readonly { id: string }[], key: 'budgets' | 'concurrency') =>
      list.forEach((item, index) => {
        if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [key, index, 'id'], message: `duplicate ${what} id '${item.id}'` });
        seen.add(item.id);
      });
    unique('budget', section.budgets, 'budgets');
    unique('concurrency', section.concurrency, 'concurrency');
    section.budgets.forEach((b, index) => {
      const windowMs = b.rolling === undefined ? undefined : durationMs(b.rolling);
      if (windowMs !== undefined && windowMs < b.slices) {
        ctx.addIssue({ code: 'custom', path: ['budgets', index, 'rolling'], message: `window shorter than ${b.slices} ms (one per slice)` });
      }
    });
  });

export type BudgetsConfig = z.infer<typeof budgetsSchema>;
export type BudgetConfig = BudgetsConfig['budgets'][number];
export type PriceConfig = BudgetsConfig['prices'][number];
export type ConcurrencyConfig = BudgetsConfig['concurrency'][number];
