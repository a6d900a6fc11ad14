// The budget Settler port: ext_proc reports each exchange's real usage once it ends; src/budget/ implements it.

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
}

export interface SettleRequest {
  readonly reservationId: string;
  /** Real usage when the response said it; undefined when it did not (then: input cost). */
  readonly usage: Usage | undefined;
  /** Upstream 5xx, reset or client cancel: settle at the input cost, never zero, never the estimate. */
  readonly failed: boolean;
  readonly now: number;
}

export interface SettleResult {
  readonly outcome: 'settled' | 'already_settled' | 'unknown' | 'error';
  /** What was charged, for metadata/logs (money in integer micro-units). */
  readonly charged?: { readonly inputTokens: number; readonly outputTokens: number; readonly microUnits: number };
}

/**
 * Settles a reservation made at admission. Idempotent by reservation id; settlement also releases
 * the request's concurrency lease (same id). May reject when its backend is broken: the caller
 * catches every rejection (a reservation left unsettled expires on its own).
 */
export interface Settler {
  settle(request: SettleRequest): Promise<SettleResult>;
}

/** Without budgets nothing was reserved, so there is nothing to settle. */
export const noSettler: Settler = {
  settle: () => Promise.resolve({ outcome: 'unknown' }),
};
