// Prometheus metrics of the ext_proc service, on the instance's own registry; every label value is a fixed word.

import { Counter, type Registry } from 'prom-client';
import type { EndKind, UsageSource } from './exchange.js';
import type { SettleResult } from './settler.js';

export type SettlementOutcome = SettleResult['outcome'] | 'rejected' | 'none';

export interface ExtProcMetrics {
  exchange(kind: EndKind, source: UsageSource): void;
  /** `none`: no reservation to settle; `rejected`: the Settler threw or rejected. */
  settlement(outcome: SettlementOutcome): void;
  /** A stream answered with an error (a transformer threw, an undecodable message): Envoy applies failure_mode_allow. */
  streamError(): void;
  /** Fields a response transformer (masking) changed, per kind: the exchange's counts. */
  masked(counts: Readonly<Record<string, number>>): void;
}

/** A kind becomes a label value: only short snake_case words (built-ins and custom ids from config). */
const MASK_KIND = /^[a-z0-9_]{1,32}$/;

export function extProcMetrics(registry: Registry): ExtProcMetrics {
  const registers = [registry];
  const exchanges = new Counter({
    name: 'modelgate_extproc_exchanges_total',
    help: 'Exchanges seen on the ext_proc stream, by how they ended (body, headers, trailers, cancelled) and where usage came from (body, sse, headers, none)',
    labelNames: ['end', 'usage_source'] as const,
    registers,
  });
  const settlements = new Counter({
    name: 'modelgate_extproc_settlements_total',
    help: 'Budget settlements by outcome (settled, already_settled, unknown, error, rejected, none = nothing reserved)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'modelgate_extproc_stream_errors_total',
    help: 'ext_proc streams modelgate ended with an error (Envoy then applies failure_mode_allow)',
    registers,
  });
  const masked = new Counter({
    name: 'modelgate_extproc_masked_total',
    help: 'Response fields masked (or bodies withheld) by kind: email, card, api_key, custom pattern ids, body_withheld, …',
    labelNames: ['kind'] as const,
    registers,
  });
  return {
    exchange: (kind, source) => exchanges.inc({ end: kind, usage_source: source }),
    masked: (counts) => {
      for (const kind in counts) {
        const n = counts[kind]!;
        if (MASK_KIND.test(kind) && Number.isSafeInteger(n) && n > 0) masked.inc({ kind }, n);
      }
    },
    settlement: (outcome) => settlements.inc({ outcome }),
    streamError: () => errors.inc(),
  };
}
