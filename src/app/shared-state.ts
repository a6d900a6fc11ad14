// State that one request leaves for a later call cannot live in one process's memory once
// `serve --workers N` spreads calls over N processes: the cluster primary refuses such a config.

import type { Config } from '../config/schema.js';

/**
 * Problems for `--workers N > 1`, as lines for the operator. Budgets: the Check reserves in one
 * worker and Envoy's ext_proc stream (the settlement) or the access-log entry (the lease release)
 * reaches any worker, where a memory reservation is unknown: usage would never be charged.
 * Approvals: a grant made through one worker's approvals listener would open checks on that
 * worker only. The in-memory rate limiter stays allowed: it is documented as per process, and each
 * check is complete in the process that answers it.
 */
export function perProcessStateProblems(config: Config, file: string, workers: number): string[] {
  const problems: string[] = [];
  const budgets = config.budgets;
  if (budgets && (budgets.budgets.length > 0 || budgets.concurrency.length > 0) && config.limits?.redis.url === undefined) {
    problems.push(
      `${file}: budgets need limits.redis.url with --workers ${workers}: a reservation made in one worker is settled by whichever worker Envoy's ext_proc stream reaches. Set limits.redis.url (or MODELGATE_REDIS_URL), or serve with --workers 1`,
    );
  }
  if (config.approvals && config.approvals.redis === undefined) {
    problems.push(
      `${file}: approvals need approvals.redis with --workers ${workers}: a grant made through one worker would open checks on that worker only. Set approvals.redis, or serve with --workers 1`,
    );
  }
  return problems;
}
