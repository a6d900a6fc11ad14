// The documented schema and the TypeScript record must not drift apart.

import { readFileSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { makeRecord } from '../../helpers/audit/traffic.js';

describe('protos/modelgate/audit/v1/record.proto', () => {
  it('parses and names exactly the fields a record carries', () => {
    const def = protoLoader.loadSync('modelgate/audit/v1/record.proto', { keepCase: true, includeDirs: ['protos'] });
    const fields = (def['modelgate.audit.v1.AuditRecord'] as { type: { field: { name: string }[] } }).type.field.map((f) => f.name);
    // The optional fields a record carries only when they apply (record.ts: budget, llm, approval).
    const optional = ['budget', 'llm', 'approval'];
    expect(fields.sort()).toEqual([...Object.keys(makeRecord({ time: 'x' })), ...optional].sort());
    const nested = (name: string) => (def[`modelgate.audit.v1.${name}`] as { type: { field: { name: string }[] } }).type.field.map((f) => f.name).sort();
    const llm: Required<import('../../../src/audit/record.js').RecordLlm> = {
      usage_source: 'body', input_tokens: 1, output_tokens: 1, cached_input_tokens: 0, cost_micro_units: 1, output_sha256: '', reservation_id: '', upstream_failed: false, masked: {},
    };
    const approval: Required<import('../../../src/audit/record.js').RecordApproval> = { event: '', approval_id: '', grant_id: '', approver: '', input_sha256: '', expires_at: '' };
    expect(nested('Llm')).toEqual(Object.keys(llm).sort());
    expect(nested('Approval')).toEqual(Object.keys(approval).sort());
    expect(readFileSync('protos/modelgate/audit/v1/record.proto', 'utf8')).toContain('modelgate audit chain genesis v1');
  });
});
