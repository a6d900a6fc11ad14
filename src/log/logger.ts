// The process logger: pino JSON to stdout, credential headers redacted wherever they appear.

import pino, { type Logger } from 'pino';
import { batchedDestination } from './batched-destination.js';

/** Header names that carry credentials; never written to a log, whatever the level. */
export const SENSITIVE_HEADERS = ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'proxy-authorization', 'x-forwarded-client-cert'];

export interface LoggerOptions {
  readonly level: string;
  readonly redactHeaders?: readonly string[];
  /** Where lines go; stdout (fd 1) unless a test or the CLI says otherwise. */
  readonly destination?: pino.DestinationStream;
}

/** Loggers made here: plain pino, no serializers, mixins, hooks or log formatter (see plainInfoWriter). */
const plainLoggers = new WeakSet<Logger>();

export function createLogger(options: LoggerOptions): Logger {
  const headers = [...new Set([...SENSITIVE_HEADERS, ...(options.redactHeaders ?? [])].map((h) => h.toLowerCase()))];
  // Redaction paths are compiled by pino once here, not per line. Headers maps up to three levels
  // deep (`input.request.headers`), and a credential logged as a field of its own.
  const paths = headers.flatMap((h) => [
    `headers["${h}"]`,
    `*.headers["${h}"]`,
    `*.*.headers["${h}"]`,
    `["${h}"]`,
    `*["${h}"]`,
  ]);
  const logger = pino(
    {
      level: options.level,
      base: { service: 'modelgate' },
      timestamp: isoTimeCachedPerMs,
      redact: { paths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? batchedDestination(pino.destination({ dest: 1, sync: false })),
  );
  plainLoggers.add(logger);
  return logger;
}

export type LineWriter = (fields: object, msg: string) => void;

/**
 * Writes an info line for `child` (a child of a logger made by createLogger, without redaction)
 * byte for byte as `child.info(fields, msg)` would, with one JSON.stringify instead of pino's
 * per-key serialization: the decision line is written on every check, and pino's walk cost about
 * as much as the rest of the line. The prefix (level, bindings), the time function and the stream
 * are pino's own, read from the logger. Fields must be plain JSON values (undefined ones are left
 * out, as pino does). undefined for any other logger: the caller then uses pino.
 */
export function plainInfoWriter(parent: Logger, child: Logger): LineWriter | undefined {
  if (!plainLoggers.has(parent)) return undefined;
  const internals = child as unknown as Record<symbol, unknown>;
  const prefix = (internals[pino.symbols.lsCacheSym] as Record<number, string>)[child.levels.values.info!];
  const time = internals[pino.symbols.timeSym] as () => string;
  const chindings = internals[pino.symbols.chindingsSym] as string;
  const end = internals[pino.symbols.endSym] as string;
  const stream = internals[pino.symbols.streamSym] as pino.DestinationStream;
  if (typeof prefix !== 'string' || typeof time !== 'function' || typeof chindings !== 'string' || typeof end !== 'string' || !stream) {
    return undefined;
  }
  return (fields, msg) => {
    const json = JSON.stringify(fields);
    const body = json.length > 2 ? `,${json.slice(1, -1)}` : '';
    stream.write(`${prefix}${time()}${chindings}${body},"msg":${JSON.stringify(msg)}${end}`);
  };
}

let stampMs = -1;
let stamp = '';

/**
 * pino's isoTime, formatted once per millisecond: under load many decision lines share a
 * millisecond, and `toISOString` was ~1% of a check's samples.
 */
export function isoTimeCachedPerMs(): string {
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}
