// Hooks the ledger calls for metrics (metrics.ts implements them); all optional, never awaited.

export interface LineSeen {
  readonly budgetId: string;
  readonly level: 'subject' | 'team' | 'org';
  readonly used: number;
  readonly reserved: number;
}

export interface BudgetEvents {
  /** After each admission that reached the ledger: the lines as last seen. */
  readonly lines?: (lines: readonly LineSeen[]) => void;
  readonly exhausted?: (budgetId: string) => void;
  readonly concurrencyLimited?: (leaseId: string) => void;
  /** Reservations swept because their TTL passed before settlement. */
  readonly expired?: (count: number) => void;
  /** Each settlement: its outcome, and seconds from admission to settlement when known. */
  readonly settled?: (outcome: string, lagSeconds: number | undefined) => void;
}
