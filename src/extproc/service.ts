// Envoy's ExternalProcessor/Process on the Check port: one stream per HTTP exchange, settled once when it ends.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { externalProcessorServiceDefinition } from '../grpc/protos.js';
import { DEFAULT_EXT_PROC, type ExtProcConfig } from './config.js';
import { Exchange, type ExchangeEnd } from './exchange.js';
import { endMetadata } from './metadata.js';
import type { PbProcessingRequest, PbProcessingResponse } from './messages.js';
import type { ExtProcMetrics } from './metrics.js';
import { noSettler, type Settler, type Usage } from './settler.js';
import { passThrough, type TransformerFactory } from './transform.js';

export interface ExtProcServiceOptions {
  /** Read per stream, so a reload applies to the next exchange. */
  readonly config: () => ExtProcConfig | undefined;
  /** Budgets' ledger (src/budget/); default: nothing to settle. */
  readonly settler?: Settler | undefined;
  /** Response masking (src/guardrails/mask/); default: bodies pass untouched. */
  readonly transformers?: TransformerFactory | undefined;
  /**
   * What the reported usage costs (budgets' price table, src/budget/prices.ts), in integer
   * micro-units; undefined when no price applies. Pure and synchronous, so it goes into the last
   * reply's metadata (and from there the access log and the audit record) without waiting on Redis.
   */
  readonly cost?: ((model: string, usage: Usage) => number | undefined) | undefined;
  readonly metrics: ExtProcMetrics;
  readonly logger: Logger;
  readonly now: () => number;
}

type ProcessCall = grpc.ServerDuplexStream<PbProcessingRequest, PbProcessingResponse>;

/** Registers ExternalProcessor on `server` (the gRPC server's `extend` hook). */
export function addExtProcService(server: Pick<grpc.Server, 'addService'>, options: ExtProcServiceOptions): void {
  server.addService(externalProcessorServiceDefinition(), { Process: processHandler(options) });
}

export function processHandler(options: ExtProcServiceOptions): (call: ProcessCall) => void {
  const settler = options.settler ?? noSettler;
  const transformers = options.transformers ?? passThrough;
  return (call) => {
    const config = options.config() ?? DEFAULT_EXT_PROC;
    const exchange = new Exchange(config, transformers);
    let failed = false;
    const conclude = (end: ExchangeEnd) => {
      try {
        options.metrics.exchange(end.kind, end.usageSource);
        options.metrics.masked(end.masked);
      } catch {
        // a metric must never end the process
      }
      // Never awaited here and never rejects: the reply is already on its way to Envoy.
      void settle(end, settler, options);
    };
    // The stream ended (Envoy half-closed, the client or upstream reset it) before the exchange did.
    const early = () => {
      const end = exchange.abort();
      if (end) conclude(end);
    };
    call.on('data', (request: PbProcessingRequest) => {
      if (failed) return;
      let end: ExchangeEnd | undefined;
      try {
        const step = exchange.handle(request);
        end = step.end;
        call.write(end ? { ...step.reply, dynamic_metadata: endMetadata(end, config.metadata_namespace, costOf(end, options)) } : step.reply);
      } catch (error) {
        // A transformer that throws cannot be trusted with the rest of the body: end the stream with
        // an error, and Envoy (failure_mode_allow: false) resets the response instead of passing it.
        failed = true;
        try {
          options.metrics.streamError();
          // The class only: a transformer's message could quote the response it was reading.
          const errClass = error instanceof Error ? error.constructor.name : typeof error;
          options.logger.error({ err_class: errClass, request_id: exchange.requestId || undefined }, 'ext_proc exchange failed; the response is cut');
        } catch {
          // a throwing logger must not keep the stream open
        }
        if (end) conclude(end);
        else early();
        call.emit('error', { code: grpc.status.INTERNAL, details: 'modelgate could not process the response' });
        return;
      }
      // After the reply is on its way: settlement never holds an Envoy message.
      if (end) conclude(end);
    });
    call.on('end', () => {
      early();
      call.end();
    });
    call.on('cancelled', early);
    call.on('error', early);
  };
}

/** The usage's cost, or undefined; a throwing price function costs the metadata field, never the reply. */
function costOf(end: ExchangeEnd, options: ExtProcServiceOptions): number | undefined {
  if (!end.usage || !options.cost) return undefined;
  try {
    return options.cost(end.caller?.model ?? '', end.usage);
  } catch {
    return undefined;
  }
}

async function settle(end: ExchangeEnd, settler: Settler, options: ExtProcServiceOptions): Promise<void> {
  const reservationId = end.caller?.reservationId ?? '';
  const fields = {
    request_id: end.caller?.requestId || undefined,
    end: end.kind,
    status: end.status,
    failed: end.failed,
    usage_source: end.usageSource,
    usage_input_tokens: end.usage?.inputTokens,
    usage_output_tokens: end.usage?.outputTokens,
    usage_cached_input_tokens: end.usage?.cachedInputTokens,
    output_sha256: end.outputSha256 || undefined,
    reservation_id: reservationId || undefined,
  };
  try {
    if (reservationId === '') {
      options.metrics.settlement('none');
      options.logger.debug(fields, 'llm exchange');
      return;
    }
    try {
      // A synchronous throw is a rejection too.
      const result = await Promise.resolve().then(() =>
        settler.settle({ reservationId, usage: end.usage, failed: end.failed, now: options.now() }),
      );
      options.metrics.settlement(result.outcome);
      const charged = result.charged;
      options.logger.info(
        { ...fields, settlement: result.outcome, charged_input_tokens: charged?.inputTokens, charged_output_tokens: charged?.outputTokens, cost_micro_units: charged?.microUnits },
        'llm exchange',
      );
    } catch (error) {
      // The reservation expires on its own (src/budget/); counted and logged, never thrown.
      options.metrics.settlement('rejected');
      options.logger.warn({ ...fields, settlement: 'rejected', err: error }, 'llm exchange not settled');
    }
  } catch {
    // A throwing logger or metric: the process must live.
  }
}
