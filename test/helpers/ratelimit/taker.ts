// A second modelgate limiter in its own process for the concurrency tests: reads
// `{ limits, subject, takes }` as JSON from argv, says "ready" when connected, fires all takes at
// once when it reads "go" on stdin, and prints `{ allowed, denied, other }`.

import { limitsSchema } from '../../../src/ratelimit/config.js';
import { createLimiter } from '../../../src/ratelimit/create-limiter.js';
import type { LimitOutcome } from '../../../src/ratelimit/limiter.js';

const { limits, subject, takes } = JSON.parse(process.argv[2] ?? '{}') as { limits: unknown; subject: string; takes: number };
const limiter = createLimiter(limitsSchema.parse(limits));

while (!(await limiter.ready())) await new Promise((r) => setTimeout(r, 20));
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.destroy();

const outcomes: LimitOutcome[] = await Promise.all(
  Array.from({ length: takes }, (_, i) =>
    limiter.take({
      identity: { subject, method: 'api_key', roles: [], attributes: {} },
      model: 'm',
      action: 'infer',
      requestId: `child-${i}`,
      body: () => undefined,
      now: Date.now(),
    }),
  ),
);
const count = (f: (o: LimitOutcome) => boolean) => outcomes.filter(f).length;
process.stdout.write(
  `${JSON.stringify({
    allowed: count((o) => o.allowed),
    denied: count((o) => !o.allowed && o.reason === 'rate_limited'),
    other: count((o) => !o.allowed && o.reason !== 'rate_limited'),
  })}\n`,
);
await limiter.close();
