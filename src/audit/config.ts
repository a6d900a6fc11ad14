// Schema of the `audit` config section (placeholder until the audit pipeline lands).

import { z } from 'zod';

export const auditSchema = z.strictObject({});

export type AuditConfig = z.infer<typeof auditSchema>;
