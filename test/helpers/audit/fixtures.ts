// Test fixtures generated at test time: temp store dirs, a fresh Ed25519 key pair, privacy settings.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultAuditConfig } from '../../../src/audit/config.js';
import { makePrivacy, type Privacy } from '../../../src/audit/privacy.js';
import { loadSigningKey, writeKeyPair, type SigningKey } from '../../../src/audit/signing.js';

export interface TempStore {
  readonly root: string;
  readonly dir: string;
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
  readonly key: SigningKey;
  cleanup(): Promise<void>;
}

export async function tempStore(): Promise<TempStore> {
  const root = await mkdtemp(join(tmpdir(), 'modelgate-audit-'));
  const privateKeyFile = join(root, 'signing.key');
  const publicKeyFile = join(root, 'signing.pub');
  await writeKeyPair(privateKeyFile, publicKeyFile);
  const loaded = await loadSigningKey(privateKeyFile);
  if (!loaded.ok) throw new Error(loaded.error);
  return {
    root,
    dir: join(root, 'store'),
    privateKeyFile,
    publicKeyFile,
    key: loaded.key,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export const TEST_HASH_KEY = 'test-only-hash-key-0123456789abcdef';

export function testPrivacy(overrides: Partial<ReturnType<typeof defaultAuditConfig>['privacy']> = {}): Privacy {
  return makePrivacy({ ...defaultAuditConfig().privacy, ...overrides }, Buffer.from(TEST_HASH_KEY));
}

/** A `modelgate serve` config: one mTLS workload allowed, and an audit section writing into `store`. */
export function serveWithAuditYaml(o: { store: string; signingKeyFile: string; hashKeyFile?: string; receiver?: string }): string {
  return `server: { admin: { enabled: false } }
identity:
  mtls: { sources: [principal], workloads: [{ match: 'spiffe://t/a', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
audit:
  store: { dir: '${o.store}', signing_key_file: '${o.signingKeyFile}', batch_max_delay: 5ms }
  receiver: ${o.receiver ?? "{ listen: '127.0.0.1:0' }"}
${o.hashKeyFile ? `  privacy: { hash_key_file: '${o.hashKeyFile}' }\n` : ''}`;
}
