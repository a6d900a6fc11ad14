// The documented schema and the TypeScript record must not drift apart.

import { readFileSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { makeRecord } from '../../helpers/audit/traffic.js';

describe('protos/modelgate/audit/v1/record.proto', () => {
  it('parses and names exactly the fields a record carries', () => {
    const def = protoLoader.loadSync('modelgate/audit/v1/record.proto', { keepCase: true, includeDirs: ['protos'] });
    const fields = (def['modelgate.audit.v1.AuditRecord'] as { type: { field: { name: string }[] } }).type.field.map((f) => f.name);
    expect(fields.sort()).toEqual(Object.keys(makeRecord({ time: 'x' })).sort());
    expect(readFileSync('protos/modelgate/audit/v1/record.proto', 'utf8')).toContain('modelgate audit chain genesis v1');
  });
});
