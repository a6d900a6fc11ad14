// grpc-js writes its own errors to stderr (`E No address added out of total 1 resolved`). A serving
// process routes them into its JSON log instead; a failed start keeps them out of its one line
// when that line already names the cause (the address that could not be bound).

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

export interface GrpcLogRoute {
  /** From now on grpc-js errors are log lines; what it said while starting is logged first. */
  serving(logger: Logger): void;
  /** The start failed: print what grpc-js said only when the failure line does not explain it. */
  failed(printHeld: boolean): void;
}

const MAX_HELD = 100;

export function routeGrpcLogs(): GrpcLogRoute {
  const held: string[] = [];
  let target: Logger | undefined;
  const text = (message: unknown, rest: unknown[]) => [message, ...rest].map(String).join(' ');
  grpc.setLogger({
    error: (message?: unknown, ...rest: unknown[]) => {
      const line = text(message, rest);
      if (target) target.error({ source: 'grpc-js' }, line);
      else if (held.length < MAX_HELD) held.push(line);
    },
    // GRPC_TRACE output: asked for explicitly, so it stays on stderr as grpc-js prints it.
    info: (message?: unknown, ...rest: unknown[]) => console.error(`I ${String(message)}`, ...rest),
    debug: (message?: unknown, ...rest: unknown[]) => console.error(`D ${String(message)}`, ...rest),
  });
  return {
    serving(logger) {
      target = logger;
      for (const line of held.splice(0)) logger.error({ source: 'grpc-js' }, line);
    },
    failed(printHeld) {
      const lines = held.splice(0);
      if (printHeld) for (const line of lines) process.stderr.write(`E ${line}\n`);
    },
  };
}
