// Schema of the `guardrails` config section: input rules at admission, masking on the response path.

import { z } from 'zod';
import { inputRulesSchema } from './input/config.js';
import { maskingSchema } from './mask/config.js';

export const guardrailsSchema = z.strictObject({
  input: inputRulesSchema.optional(),
  masking: maskingSchema.optional(),
});

export type GuardrailsConfig = z.infer<typeof guardrailsSchema>;
