// The Settler port is defined by ext_proc (src/extproc/settler.ts); src/budget/ implements it.

export type { SettleRequest, SettleResult, Settler, Usage } from '../extproc/settler.js';

import type { SettleResult, Settler } from '../extproc/settler.js';

/** The ledger's settlement side: the Settler port plus lease release (the access-log path). */
export interface BudgetSettler extends Settler {
  /** Frees the request's concurrency lease without charging (the access log saw the request end). */
  release(reservationId: string, now: number): Promise<SettleResult['outcome']>;
}
