// Every Envoy config the repo ships passes the real Envoy's `--mode validate` (the pinned 1.40 the
// tests run), with the dev certificates generated; the end-to-end tests run those same files with
// nothing but addresses, ports and file paths changed.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { differences, ENVOY_BIN, ENVOY_VERSION, readEnvoyConfig, ROOT, substitute, validateEnvoyConfig, type Node } from '../../helpers/envoy.js';
import { devCerts, testFilePath } from '../../helpers/envoy-stack.js';

const shipped = readdirSync(path.join(ROOT, 'envoy')).filter((f) => /\.ya?ml$/.test(f)).map((f) => `envoy/${f}`);
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as Node;

describe.skipIf(!ENVOY_BIN)('the real Envoy', () => {
  let certs: string;
  let dir: string;
  beforeAll(() => {
    certs = devCerts();
    dir = mkdtempSync(path.join(tmpdir(), 'modelgate-validate-'));
  });
  afterAll(() => {
    rmSync(certs, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  /** Only certificate paths move (to the generated dev certificates); addresses stay as shipped. */
  const withCerts = (doc: Node): Node => {
    const rendered = structuredClone(doc);
    const map = testFilePath(certs, dir);
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (typeof node !== 'object' || node === null) return;
      for (const [k, v] of Object.entries(node as Node)) {
        if (k === 'filename' && typeof v === 'string') (node as Node)[k] = map(v);
        else walk(v);
      }
    };
    walk(rendered);
    return rendered;
  };

  it(`is Envoy ${ENVOY_VERSION}, the version docs/envoy.md and docker-compose.yml name`, () => {
    const version = execFileSync(ENVOY_BIN!, ['--version'], { encoding: 'utf8' });
    expect(version).toMatch(new RegExp(`/${ENVOY_VERSION.replace(/\./g, '\\.')}/`));
    expect(compose.services.envoy.image).toBe(`envoyproxy/envoy:v${ENVOY_VERSION}`);
    expect(readFileSync(path.join(ROOT, 'docs/envoy.md'), 'utf8')).toContain(`Envoy ${ENVOY_VERSION}`);
  });

  it.each(shipped)('%s passes envoy --mode validate', (file) => {
    const result = validateEnvoyConfig(withCerts(readEnvoyConfig(file)), dir);
    expect(result.output).toMatch(/OK/);
    expect(result.ok).toBe(true);
  });

  it('the compose Envoy (its command and mounts) passes envoy --mode validate', () => {
    const envoy = compose.services.envoy as Node;
    const configPath = envoy.command[envoy.command.indexOf('--config-path') + 1];
    const mounted = (envoy.volumes as string[]).map((v) => v.split(':'));
    const source = mounted.find(([, target]) => target === configPath)?.[0];
    expect(source).toBeDefined();
    // The certificate folder compose mounts is what dev-certs.sh writes; here it is a fresh copy.
    const certMount = mounted.find(([from]) => from === './.envoy-dev/certs')?.[1];
    const doc = readEnvoyConfig(source!);
    expect(JSON.stringify(doc)).toContain(`${certMount}/`);
    const result = validateEnvoyConfig(withCerts(doc), dir);
    expect(result.ok, result.output).toBe(true);
  });

  it('rejects what it should: an unknown field, a missing certificate file', () => {
    const typo = withCerts(readEnvoyConfig('envoy/edge.yaml'));
    typo.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.failure_mode_alow = false;
    const bad = validateEnvoyConfig(typo, dir);
    expect(bad.ok).toBe(false);
    expect(bad.output).toMatch(/failure_mode_alow/);

    const missing = validateEnvoyConfig(readEnvoyConfig('envoy/edge.yaml'), dir);
    expect(missing.ok).toBe(false);
    expect(missing.output).toMatch(/\/etc\/envoy\/certs\//);
  });
});

describe('what the end-to-end tests run is the shipped config', () => {
  it.each(['envoy/edge.yaml', 'envoy/sidecar.yaml'])('%s differs only in socket addresses and file paths', (file) => {
    const doc = readEnvoyConfig(file);
    const endpoint = { address: '127.0.0.1', port: 1 };
    const rendered = substitute(doc, {
      adminPort: 2,
      listeners: Object.fromEntries((doc.static_resources.listeners as Node[]).map((l) => [l.name, 3])),
      clusters: Object.fromEntries((doc.static_resources.clusters as Node[]).map((c) => [c.name, endpoint])),
      file: (p) => `/tmp/x${p}`,
    });
    const changed = differences(doc, rendered);
    expect(changed.length).toBeGreaterThan(0);
    // A route's `match.path` must never move: only a file access log's `path` is a file.
    for (const at of changed) expect(at).toMatch(/\.socket_address\.(address|port_value)$|\.filename$|\.access_log\[\d+\]\.typed_config\.path$/);
  });

  it('substitute refuses to leave a listener or cluster on its shipped address', () => {
    const doc = readEnvoyConfig('envoy/edge.yaml');
    expect(() => substitute(doc, { adminPort: 2, listeners: {}, clusters: {} })).toThrow(/no port for listener edge_https/);
  });
});
