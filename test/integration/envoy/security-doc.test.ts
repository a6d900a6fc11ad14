// docs/security.md's mTLS hop is the one the shipped files run: its Envoy cluster snippet is
// envoy/edge.yaml's `modelgate` cluster (every key it shows), its modelgate snippet is
// envoy/compose/modelgate.yaml's server.grpc. The e2e tests then prove the hop for real.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, readEnvoyConfig, type Node } from '../../helpers/envoy.js';
import { configSchema } from '../../../src/config/schema.js';

function snippets(): Node[] {
  const doc = readFileSync(path.join(ROOT, 'docs/security.md'), 'utf8');
  const start = doc.indexOf('## Deploying the Envoy ↔ modelgate hop with mTLS');
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Node);
}

describe('docs/security.md: the Envoy <-> modelgate mTLS hop', () => {
  const [gate, envoy] = snippets();

  it('the Envoy snippet is edge.yaml\'s modelgate cluster, key for key', () => {
    const cluster = (envoy as Node[])[0]!;
    const shipped = (readEnvoyConfig('envoy/edge.yaml').static_resources.clusters as Node[]).find((c) => c.name === 'modelgate')!;
    expect(cluster.transport_socket).toBeDefined();
    for (const key of Object.keys(cluster)) expect(shipped[key], key).toEqual(cluster[key]);
  });

  it('the modelgate snippet is the compose config\'s server.grpc, and the schema accepts it', () => {
    const compose = parse(readFileSync(path.join(ROOT, 'envoy/compose/modelgate.yaml'), 'utf8')) as Node;
    expect(gate!.server.grpc).toEqual(compose.server.grpc);
    const parsed = configSchema.parse({ server: gate!.server, policy: { roles: {} } });
    expect(parsed.server.grpc.tls).toMatchObject({ require_client_cert: true, client_ca_file: '/etc/modelgate/tls/proxy-ca.crt' });
  });
});
