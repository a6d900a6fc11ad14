// ext_proc's metadata (usage, output hash, masking) in audit records from both Envoy formats.

import { describe, expect, it } from 'vitest';
import { readExtProc } from '../../../src/audit/ext-proc-fields.js';
import { normalizeAlsEntry } from '../../../src/audit/normalize-als.js';
import { normalizeFileLine } from '../../../src/audit/normalize-file.js';
import { canonicalJson } from '../../../src/audit/canonical.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';
import { testPrivacy } from '../../helpers/audit/fixtures.js';

const HASH = 'a'.repeat(64);
const EXT_PROC = {
  usage_source: 'sse',
  usage_input_tokens: 12,
  usage_output_tokens: 30,
  usage_cached_input_tokens: 2,
  output_sha256: HASH,
  reservation_id: 'res-1',
  upstream_failed: false,
  masked_email: 2,
};
const LLM = {
  usage_source: 'sse',
  input_tokens: 12,
  output_tokens: 30,
  cached_input_tokens: 2,
  output_sha256: HASH,
  reservation_id: 'res-1',
  upstream_failed: false,
  masked: { email: 2 },
};
const line = {
  start_time: '2026-11-28T10:00:00.000Z',
  request_id: 'r-1',
  method: 'POST',
  path: '/v1/chat/completions',
  response_code: 200,
  ext_authz: { decision: 'allow', subject: 'mtls:x', request_id: 'r-1' },
};
const fileSource = { kind: 'envoy_file' as const, id: 'f', file: '1:2', offset: 1 };

describe('readExtProc', () => {
  it('maps the metadata fields', () => {
    expect(readExtProc(EXT_PROC)).toEqual({ ...LLM, cost_micro_units: undefined });
  });

  it('undefined without the namespace, so other records keep their canonical bytes', () => {
    expect(readExtProc(undefined)).toBeUndefined();
    const r = normalizeFileLine(JSON.stringify(line), fileSource, testPrivacy());
    expect(r.ok && canonicalJson(r.record)).not.toContain('llm');
  });

  it('drops what is not a count or a hash; unknown sources read as none', () => {
    const odd = readExtProc({ usage_source: 'guess', usage_input_tokens: -1, usage_output_tokens: 1.5, output_sha256: 'nope', masked_x: 'many', masked_y: '3' });
    expect(odd).toMatchObject({ usage_source: 'none', input_tokens: undefined, output_tokens: undefined, output_sha256: '', masked: { y: 3 } });
  });
});

describe('normalization with ext_proc metadata', () => {
  it('file format: the ext_proc object (or its JSON text) becomes record.llm', () => {
    for (const ext of [EXT_PROC, JSON.stringify(EXT_PROC)]) {
      const r = normalizeFileLine(JSON.stringify({ ...line, ext_proc: ext }), fileSource, testPrivacy());
      expect(r.ok && r.record.llm).toMatchObject(LLM);
    }
    const none = normalizeFileLine(JSON.stringify({ ...line, ext_proc: null }), fileSource, testPrivacy());
    expect(none.ok && none.record.llm).toBeUndefined();
  });

  it('ALS: the envoy.filters.http.ext_proc namespace becomes record.llm', () => {
    const entry = {
      common_properties: {
        start_time: { seconds: '1795860000', nanos: 0 },
        metadata: { filter_metadata: { 'envoy.filters.http.ext_proc': jsonToStruct(EXT_PROC) } },
      },
      request: { request_id: 'r-1' },
    };
    const r = normalizeAlsEntry(entry, { kind: 'envoy_als', id: 'n/l' }, testPrivacy());
    expect(r.ok && r.record.llm).toMatchObject(LLM);
  });
});
