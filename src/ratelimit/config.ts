// Schema of the `limits` config section (placeholder until the limiter lands).

import { z } from 'zod';

export const limitsSchema = z.strictObject({});

export type LimitsConfig = z.infer<typeof limitsSchema>;
