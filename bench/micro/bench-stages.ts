// The pipeline the micro benches drive, outside gRPC: the bench fixtures' config, read and built by
// the server's one loader (src/app/load-stages.ts), warmed, on a clock the bench moves, with the
// process logger writing decision lines to /dev/null as the bench's server does.

import pino from 'pino';
import type { Logger } from 'pino';
import { checkedStages, readConfig } from '../../src/app/load-stages.js';
import { createLogger } from '../../src/log/logger.js';
import type { Stages } from '../../src/pipeline/authorizer.js';
import { createLimiter } from '../../src/ratelimit/create-limiter.js';
import type { Limiter } from '../../src/ratelimit/limiter.js';
import { makeFixtures, type Fixtures } from '../fixtures.js';

export interface BenchStages {
  readonly fx: Fixtures;
  readonly stages: Stages;
  readonly limiter: Limiter;
  /** The pipeline's clock, in epoch ms: the bench advances it so buckets refill between checks. */
  readonly clock: { ms: number };
  readonly logger: Logger;
}

export async function benchStages(dir: string): Promise<BenchStages> {
  const fx = await makeFixtures(dir);
  const read = readConfig(fx.configFile(0), {});
  if (!read.ok) throw read.error;
  const clock = { ms: Date.UTC(2026, 10, 23) };
  const limiter = createLimiter(read.loaded.config.limits!);
  const built = checkedStages(read.loaded, { env: {}, now: () => clock.ms, limiter });
  if (!built.ok) throw built.error;
  await built.warm();
  const logger = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  return { fx, stages: built.stages, limiter, clock, logger };
}
