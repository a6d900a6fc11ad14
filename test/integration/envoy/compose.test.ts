// docker-compose.yml, the Dockerfile and the Envoy configs agree with each other and with the repo:
// every mounted or built file exists (or is made by scripts/dev-certs.sh), images are pinned,
// Envoy's cluster hostnames are compose services, and secrets stay out of the image.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { decodeBootstrapFile } from '../../helpers/envoy-schema.js';
import { clusterEndpoints } from '../../helpers/envoy-refs.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DEV_CERTS_DIR = '.envoy-dev/certs'; // the default output folder of scripts/dev-certs.sh

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Node = Record<string, any>;
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as Node;
const services = compose.services as Record<string, Node>;
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

interface Mount {
  readonly service: string;
  readonly source: string;
  readonly target: string;
}

/** Bind mounts in short syntax (`./host:/container[:ro]`); named volumes are not files. */
const mounts: Mount[] = Object.entries(services).flatMap(([service, spec]) =>
  ((spec.volumes ?? []) as string[])
    .filter((v) => v.startsWith('./'))
    .map((v) => {
      const [source = '', target = ''] = v.split(':');
      return { service, source: path.normalize(source), target };
    }),
);

let certs: string;
beforeAll(() => {
  certs = mkdtempSync(path.join(tmpdir(), 'modelgate-compose-certs-'));
  execFileSync('bash', [path.join(ROOT, 'scripts/dev-certs.sh'), certs], { stdio: 'pipe' });
});
afterAll(() => rmSync(certs, { recursive: true, force: true }));

describe('docker-compose.yml', () => {
  it('runs envoy, modelgate, redis and the model-server stand-in', () => {
    expect(Object.keys(services).sort()).toEqual(['envoy', 'model-server', 'modelgate', 'redis']);
  });

  it('pins every image, Envoy to an exact official release', () => {
    for (const [name, spec] of Object.entries(services)) {
      if (spec.build) continue;
      expect(spec.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(spec.image, name).not.toMatch(/:latest$/);
    }
    expect(services['envoy']?.image).toMatch(/^envoyproxy\/envoy:v1\.\d+\.\d+$/);
  });

  it('mounts only files that exist in the repo or that scripts/dev-certs.sh produces', () => {
    for (const mount of mounts) {
      if (mount.source.startsWith(DEV_CERTS_DIR)) continue; // checked against the script below
      expect(existsSync(path.join(ROOT, mount.source)), `${mount.service}: ${mount.source}`).toBe(true);
    }
  });

  it('gives Envoy every certificate file its config names, from dev-certs.sh output', () => {
    const certMount = mounts.find((m) => m.service === 'envoy' && m.source === DEV_CERTS_DIR);
    expect(certMount, 'envoy mounts .envoy-dev/certs').toBeDefined();
    const edge = readFileSync(path.join(ROOT, 'envoy/edge.yaml'), 'utf8');
    const named = [...edge.matchAll(/filename:\s*([^\s}]+)/g)].map((m) => m[1] ?? '');
    expect(named.length).toBeGreaterThan(0);
    for (const file of named) {
      expect(file.startsWith(`${certMount?.target}/`), file).toBe(true);
      expect(existsSync(path.join(certs, path.basename(file))), file).toBe(true);
    }
  });

  it('starts Envoy with a config that is mounted from envoy/', () => {
    const command = (services['envoy']?.command ?? []) as string[];
    const configPath = command[command.indexOf('--config-path') + 1];
    const mount = mounts.find((m) => m.service === 'envoy' && m.target === configPath);
    expect(mount?.source).toBe(path.normalize('envoy/edge.yaml'));
  });

  it('starts modelgate with the config it mounts', () => {
    const command = (services['modelgate']?.command ?? []) as string[];
    const configPath = command[command.indexOf('--config') + 1];
    expect(mounts.some((m) => m.service === 'modelgate' && m.target === configPath)).toBe(true);
  });

  it('names compose services (or loopback) as the hosts of every Envoy cluster', () => {
    for (const file of ['envoy/edge.yaml', 'envoy/sidecar.yaml']) {
      for (const endpoint of clusterEndpoints(decodeBootstrapFile(path.join(ROOT, file)).doc)) {
        const known = endpoint.address in services || endpoint.address === '127.0.0.1';
        expect(known, `${file}: cluster ${endpoint.cluster} -> ${endpoint.address}`).toBe(true);
      }
    }
  });

  it('runs the model-server stand-in on the port the edge routes to', () => {
    const edge = clusterEndpoints(decodeBootstrapFile(path.join(ROOT, 'envoy/edge.yaml')).doc);
    const port = edge.find((e) => e.address === 'model-server')?.port;
    expect(String(port)).toBe(services['model-server']?.environment?.PORT);
  });
});

describe('Dockerfile and .dockerignore', () => {
  it('builds from files that exist', () => {
    const build = services['modelgate']?.build as Node;
    expect(existsSync(path.join(ROOT, build.context, build.dockerfile))).toBe(true);
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+?) \S+$/gm)].flatMap((m) => (m[1] ?? '').split(/\s+/));
    for (const source of sources) expect(existsSync(path.join(ROOT, source)), source).toBe(true);
    // `node dist/cli/index.js` is compiled from this file by tsconfig.build.json.
    expect(dockerfile).toMatch(/dist\/cli\/index\.js/);
    expect(existsSync(path.join(ROOT, 'src/cli/index.ts'))).toBe(true);
  });

  it('is multi-stage, runs npm ci and the build, and ends as a non-root user with a healthcheck', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER (?!root\b|0\b)\S+$/m);
    expect(runtime).toMatch(/HEALTHCHECK[\s\S]*127\.0\.0\.1:9192\/healthz/);
  });

  it('keeps keys, certificates and local state out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['.envoy-dev', '.modelgate', 'node_modules', '.git', 'dist']) {
      expect(ignored, entry).toContain(entry);
    }
  });

  it('keeps dev certificates out of git', () => {
    const gitignore = readFileSync(path.join(ROOT, '.gitignore'), 'utf8');
    expect(gitignore.split('\n')).toContain('.envoy-dev/');
  });
});

describe('the modelgate config compose mounts', () => {
  it('passes `modelgate validate`', () => {
    const mount = mounts.find((m) => m.service === 'modelgate' && m.source.endsWith('.yaml'));
    expect(mount).toBeDefined();
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src/cli/index.ts'), 'validate', path.join(ROOT, mount?.source ?? '')],
      { cwd: ROOT, encoding: 'utf8', stdio: 'pipe', timeout: 30_000 },
    );
    expect(output).toMatch(/: OK/);
  });
});
