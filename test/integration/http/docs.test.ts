// docs/http-mode.md cannot drift: its nginx block is the one the nginx tests run, its Envoy blocks
// decode against Envoy's protos, and its modelgate block passes the config schema.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { checkDocument, envoySchema } from '../../helpers/envoy-schema.js';
import { modelgateServerBlock } from '../../helpers/nginx.js';

const DOC = readFileSync(path.resolve(import.meta.dirname, '../../../docs/http-mode.md'), 'utf8');

function blocks(lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g');
  for (let m = re.exec(DOC); m; m = re.exec(DOC)) out.push(m[1]!);
  return out;
}

function yamlBlock(firstLine: string): unknown {
  const block = blocks('yaml').find((b) => b.startsWith(firstLine));
  expect(block, `a yaml block starting with ${firstLine}`).toBeDefined();
  return parseYaml(block!);
}

describe('docs/http-mode.md', () => {
  it('shows the nginx config the tests run, with the doc paths and ports', () => {
    const expected = modelgateServerBlock({
      listen: '443',
      modelgate: '127.0.0.1:9193',
      modelServer: '127.0.0.1:8080',
      serverCertFile: '/etc/nginx/tls/server.crt',
      serverKeyFile: '/etc/nginx/tls/server.key',
      clientCaFile: '/etc/nginx/tls/client-ca.crt',
    });
    expect(blocks('nginx')).toEqual([expected]);
  });

  it('has an ext_authz http_service filter Envoy accepts', () => {
    const problems = checkDocument(envoySchema(), 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', yamlBlock('name: envoy.filters.http.ext_authz'));
    expect(problems).toEqual([]);
  });

  it('has a modelgate_http cluster Envoy accepts', () => {
    const problems = checkDocument(envoySchema(), 'envoy.config.cluster.v3.Cluster', yamlBlock('name: modelgate_http'));
    expect(problems).toEqual([]);
  });

  it('documents server.http keys the schema accepts, with the values it claims', () => {
    const doc = yamlBlock('server:') as { server: unknown };
    const parsed = configSchema.safeParse({ server: doc.server, policy: { roles: {} } });
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    expect(parsed.data!.server.http).toEqual({
      enabled: true,
      address: '127.0.0.1:9193',
      allow_plaintext_beyond_loopback: false,
      path_prefix: '/check',
      method_header: 'x-original-method',
      uri_header: 'x-original-uri',
      client_cert_header: 'x-ssl-client-cert',
      max_body_bytes: 65536,
    });
  });

  it('rejects an unknown server.http key', () => {
    const parsed = configSchema.safeParse({ server: { http: { enabled: true, uri_heder: 'x' } }, policy: { roles: {} } });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('uri_heder');
  });
});
