// Schema of `guardrails.masking`: patterns masked in model responses on the ext_proc path (filled in by the masking work).

import { z } from 'zod';

export const maskingSchema = z.strictObject({});
