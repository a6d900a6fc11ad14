// Schema of `guardrails.input`: rules over chat and completion request bodies (filled in by the input-rules work).

import { z } from 'zod';

export const inputRulesSchema = z.strictObject({});
