// docs/ext-proc.md shows the ext_proc filter and the per-route switch exactly as envoy/llm.yaml ships them.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { extProcSchema } from '../../../src/extproc/config.js';
import { parseConfig } from '../../../src/config/load.js';
import type { ConfigError } from '../../../src/config/problems.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Node = Record<string, any>;

const blocks = [...readFileSync(path.join(ROOT, 'docs/ext-proc.md'), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as unknown);
const llm = parse(readFileSync(path.join(ROOT, 'envoy/llm.yaml'), 'utf8')) as Node;
const hcm = llm.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;

describe('docs/ext-proc.md', () => {
  it('the filter snippet is the one in envoy/llm.yaml', () => {
    const filter = (hcm.http_filters as Node[]).find((f) => f.name === 'envoy.filters.http.ext_proc');
    expect(blocks[0]).toEqual([filter]);
  });

  it('the per-route snippet is the chat route\'s', () => {
    const route = (hcm.route_config.virtual_hosts[0].routes as Node[]).find((r) => r.match.path === '/v1/chat/completions')!;
    expect((blocks[1] as Node).typed_per_filter_config['envoy.filters.http.ext_proc']).toEqual(route.typed_per_filter_config['envoy.filters.http.ext_proc']);
  });

  it('the config example is valid and states the defaults', () => {
    const doc = (blocks[2] as Node).ext_proc;
    expect(extProcSchema.parse(doc)).toEqual(doc);
    expect(extProcSchema.parse({})).toEqual({ max_body_bytes: doc.max_body_bytes, metadata_namespace: doc.metadata_namespace });
  });

  it('the namespaces agree: what Envoy forwards and accepts is what modelgate reads and writes', () => {
    const filter = (hcm.http_filters as Node[]).find((f) => f.name === 'envoy.filters.http.ext_proc')!.typed_config;
    expect(filter.metadata_options.forwarding_namespaces.untyped).toEqual(['envoy.filters.http.ext_authz']);
    expect(filter.metadata_options.receiving_namespaces.untyped).toEqual([extProcSchema.parse({}).metadata_namespace]);
    expect(filter.failure_mode_allow).toBe(false);
  });
});

/** The problems the one config loader reports for `section` under ext_proc (file, line, key path). */
function problems(section: string): string[] {
  const text = `policy:\n  roles: {}\next_proc:\n${section}`;
  try {
    parseConfig(text, 'modelgate.yaml', {});
    return [];
  } catch (error) {
    return [...(error as ConfigError).lines];
  }
}

describe('ext_proc config', () => {
  it('an absent section is fine', () => {
    expect(parseConfig('policy:\n  roles: {}\n', 'modelgate.yaml', {}).config.ext_proc).toBeUndefined();
  });

  it.each([
    ['  max_body_bytes: 10\n', 'modelgate.yaml:4: ext_proc.max_body_bytes: must be at least 1024'],
    ['  usage_headers: { input: X-Upper, output: x-out }\n', 'modelgate.yaml:4: ext_proc.usage_headers.input: expected a lower-case HTTP header name'],
    ['  usage_headers: { input: x-in }\n', "modelgate.yaml:4: ext_proc.usage_headers.output: required"],
    ['  max_body_byte: 2048\n', "modelgate.yaml:4: ext_proc.max_body_byte: unknown field 'max_body_byte'"],
  ])('%j is refused', (section, message) => {
    expect(problems(section)).toEqual([message]);
  });
});
