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
  return pino(
    {
      level: options.level,
      base: { service: 'modelgate' },
      timestamp: isoTimeCachedPerMs,
      redact: { paths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? batchedDestination(pino.destination({ dest: 1, sync: false })),
  );
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
