// docs/envoy.md's docker-compose walkthrough without Docker: the compose services run as processes
// (the same Envoy config, modelgate config and model server, Redis), with container paths mapped to
// host paths through docker-compose.yml's own mounts, and the documented commands give the
// documented answers, down to the audit trail Envoy's access logger feeds.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ENVOY_BIN, freePort, readEnvoyConfig, ROOT, startEnvoy, substitute, type Node, type TestEnvoy } from '../../helpers/envoy.js';
import { devCerts } from '../../helpers/envoy-stack.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { CLI, startServe, type ServeProcess } from '../../helpers/serve-process.js';

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as Node;
/** The container's writable working directory (Dockerfile WORKDIR of the runtime stage). */
const CONTAINER_STATE = '/var/lib/modelgate';

/** The walkthrough's shell block: the fenced `sh` block under "## The compose walkthrough". */
function walkthroughBlock(): string {
  const doc = readFileSync(path.join(ROOT, 'docs/envoy.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## The compose walkthrough'));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('docs/envoy.md: no sh block in the compose walkthrough');
  return match[1]!;
}

/** Container path → host path, from a service's bind mounts (`./.envoy-dev/certs` → the test's certs). */
function mountMap(service: string, certs: string): Array<[string, string]> {
  return ((compose.services[service].volumes ?? []) as string[])
    .map((v) => v.split(':') as [string, string])
    .map(([source, target]): [string, string] => [target, source.replace(/^\.\/\.envoy-dev\/certs/, certs).replace(/^\.\//, `${ROOT}/`)])
    .sort((a, b) => b[0].length - a[0].length);
}

function hostPath(map: Array<[string, string]>, state: string, p: string): string {
  for (const [target, source] of map) if (p === target || p.startsWith(`${target}/`)) return source + p.slice(target.length);
  if (p.startsWith(`${CONTAINER_STATE}/`)) return state + p.slice(CONTAINER_STATE.length);
  return p;
}

describe.skipIf(!ENVOY_BIN)('the compose walkthrough, as processes', () => {
  let certs: string;
  let dir: string;
  let redis: RedisServer;
  let modelgate: ServeProcess;
  let modelServer: ChildProcess;
  let envoy: TestEnvoy;
  let edgePort: number;
  let adminPort: number;
  let modelgateMounts: Array<[string, string]>;
  let output: string;

  beforeAll(async () => {
    certs = devCerts();
    dir = mkdtempSync(path.join(tmpdir(), 'modelgate-compose-'));
    redis = await startRedis();

    // modelgate: the mounted config, compose hostnames and container paths swapped for local ones.
    modelgateMounts = mountMap('modelgate', certs);
    const command = compose.services.modelgate.command as string[];
    const configFile = hostPath(modelgateMounts, dir, command[command.indexOf('--config') + 1]!);
    const config = parse(readFileSync(configFile, 'utf8')) as Node;
    const grpcPort = await freePort();
    adminPort = await freePort();
    config.server.grpc.address = `127.0.0.1:${grpcPort}`;
    // The Check port's mTLS, over the files compose mounts from dev-certs.sh (Envoy's hop is mTLS).
    for (const key of ['cert_file', 'key_file', 'client_ca_file']) config.server.grpc.tls[key] = hostPath(modelgateMounts, dir, config.server.grpc.tls[key]);
    expect(config.server.http).toBeUndefined(); // compose serves no HTTP mode: nothing calls it
    config.server.admin.address = `127.0.0.1:${adminPort}`;
    config.limits.redis.url = redis.url;
    config.audit.store.dir = hostPath(modelgateMounts, dir, config.audit.store.dir);
    config.audit.store.signing_key_file = hostPath(modelgateMounts, dir, config.audit.store.signing_key_file);
    config.audit.privacy.hash_key_file = hostPath(modelgateMounts, dir, config.audit.privacy.hash_key_file);
    // The audit receiver: its own port, over the mTLS files compose mounts from dev-certs.sh.
    const auditPort = await freePort();
    config.audit.receiver.listen = `127.0.0.1:${auditPort}`;
    for (const key of ['cert_file', 'key_file', 'client_ca_file']) config.audit.receiver.tls[key] = hostPath(modelgateMounts, dir, config.audit.receiver.tls[key]);
    writeFileSync(path.join(dir, 'modelgate.yaml'), stringify(config));
    modelgate = await startServe(['--config', path.join(dir, 'modelgate.yaml')]);

    // The model server stand-in, as compose runs it.
    const modelPort = await freePort();
    modelServer = spawn(process.execPath, [path.join(ROOT, 'examples/model-server/server.mjs')], {
      env: { ...process.env, ...compose.services['model-server'].environment, PORT: String(modelPort), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Compose only orders the start; a process must also be listening before the first call.
    await new Promise<void>((resolve, reject) => {
      modelServer.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve());
      modelServer.once('exit', (code) => reject(new Error(`model server exited ${code}`)));
    });

    // Envoy: the config compose mounts, with the certificate mount mapped to the test's dev certs.
    const envoyMounts = mountMap('envoy', certs);
    const envoyCommand = compose.services.envoy.command as string[];
    const edge = readEnvoyConfig(path.relative(ROOT, hostPath(envoyMounts, dir, envoyCommand[envoyCommand.indexOf('--config-path') + 1]!)));
    edgePort = await freePort();
    const envoyAdmin = await freePort();
    const local = (port: number) => ({ address: '127.0.0.1', port });
    // Compose's own Envoy flags (the flush interval the walkthrough relies on), minus config and log level.
    const flags: string[] = [];
    for (let i = 1; i < envoyCommand.length; i += 2) {
      if (!['--config-path', '--log-level'].includes(envoyCommand[i]!)) flags.push(envoyCommand[i]!, envoyCommand[i + 1]!);
    }
    expect(flags).toContain('--file-flush-interval-msec');
    envoy = await startEnvoy({
      args: flags,
      adminPort: envoyAdmin,
      config: substitute(edge, {
        adminPort: envoyAdmin,
        listeners: { edge_https: edgePort },
        clusters: { modelgate: local(grpcPort), modelgate_accesslog: local(auditPort), model_server: local(modelPort), envoy_admin: local(envoyAdmin) },
        file: (p) => (p === '/dev/stdout' ? path.join(dir, 'envoy-stdout.log') : hostPath(envoyMounts, dir, p)),
      }),
    });

    // The documented commands, with compose's ports, hosts and `docker compose` calls mapped.
    const script = walkthroughBlock()
      .split('\n')
      .filter((line) => !/^(scripts\/dev-certs\.sh|docker compose (up|ps))\b/.test(line))
      .map((line) =>
        line
          .replace(/^C=\.envoy-dev\/certs/, `C=${certs}`)
          .replaceAll('https://localhost:8443', `https://localhost:${edgePort}`)
          .replaceAll('localhost:9192', `127.0.0.1:${adminPort}`)
          .replace('docker compose logs envoy', `cat ${path.join(dir, 'envoy-stdout.log')}`)
          .replace('docker compose exec modelgate node /app/dist/cli/index.js', `node ${CLI.join(' ')}`)
          .replace(/(\/etc\/modelgate|\/var\/lib\/modelgate)\S*/g, (p) => hostPath(modelgateMounts, dir, p)),
      )
      .join('\n');
    writeFileSync(path.join(dir, 'walkthrough.sh'), script);
    const run = spawnSync('bash', [path.join(dir, 'walkthrough.sh')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    if (process.env.WALK_DUMP) writeFileSync(process.env.WALK_DUMP, run.stdout + run.stderr);
    output = `${run.stdout}\n--- stderr ---\n${run.stderr}`;
  }, 120_000);

  afterAll(async () => {
    await envoy?.stop();
    modelServer?.kill('SIGKILL');
    modelgate?.proc.kill('SIGKILL');
    await redis?.stop();
    rmSync(certs, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const statuses = () => [...output.matchAll(/ -> (\d{3})$/gm)].map((m) => Number(m[1]));
  /** The JSON body curl printed before ` -> STATUS` (the model server ends its body with a newline). */
  const bodyOf = (status: number) => JSON.parse(new RegExp(`(\\{[^\\n]*\\})\\n? -> ${status}$`, 'm').exec(output)![1]!) as Record<string, unknown>;

  it('answers the documented calls: allow, deny, four more allowed then 429', () => {
    // The outsider's curl prints 000: no HTTP answer at all.
    expect(statuses(), output).toEqual([200, 403, 200, 200, 200, 200, 429, 0]);
    expect(bodyOf(200)).toMatchObject({
      model: 'fraud-detector',
      identity: { 'x-modelgate-subject': 'mtls:spiffe://modelgate.local/ns/ml/sa/batch-scorer', 'x-modelgate-roles': 'analyst' },
      authorization_received: false,
    });
    expect(bodyOf(403)).toMatchObject({ error: 'forbidden', reason: 'no_matching_rule' });
    expect(bodyOf(429)).toMatchObject({ error: 'rate_limited', reason: 'rate_limited' });
  });

  it('refuses the outsider and the certificate-less client in the handshake', () => {
    // Two curl failures, each on stderr; neither printed a status line.
    expect(output.split('--- stderr ---')[1]!.match(/^curl: \(\d+\)/gm)?.length, output).toBe(2);
  });

  it('shows the access log with UAEX on the denials, and the decision metrics', () => {
    const flags = output.split('\n').filter((l) => l.includes('"response_flags"')).map((l) => (JSON.parse(l) as { response_flags: string }).response_flags);
    expect(flags.filter((f) => f === 'UAEX')).toHaveLength(2);
    expect(flags.filter((f) => f === '-')).toHaveLength(5);
    expect(output).toMatch(/^modelgate_checks_total\{.*reason="allowed".*\} 5$/m);
    expect(output).toMatch(/^modelgate_checks_total\{.*reason="no_matching_rule".*\} 1$/m);
  });

  it('puts every request Envoy logged into a verified, signed audit trail', () => {
    // Seven requests reached ext_authz (the two refused handshakes never became requests).
    expect(output).toMatch(/^OK: 1 segments, 7 chained entries, .*signatures verified$/m);
    // The report's per-subject table: requests, allowed, denied.
    expect(output).toMatch(/^mtls:spiffe:\/\/modelgate\.local\/ns\/ml\/sa\/batch-scorer +6 +5 +1 /m);
    expect(output).toMatch(/^mtls:spiffe:\/\/modelgate\.local\/ns\/web\/sa\/frontend +1 +0 +1 /m);
  });
});
