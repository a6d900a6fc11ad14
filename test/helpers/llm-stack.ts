// The shipped LLM gateway Envoy (envoy/llm.yaml: ext_authz + ext_proc) in front of the fake OpenAI server, with an in-process
// modelgate whose Settler and body transformers the test chooses.

import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startModelgate, type Modelgate } from '../../src/main.js';
import type { SettleRequest, SettleResult, Settler } from '../../src/extproc/settler.js';
import type { TransformerFactory } from '../../src/extproc/transform.js';
import { freePort, readEnvoyConfig, startEnvoy, substitute, type Endpoint, type Node, type TestEnvoy } from './envoy.js';
import { devCerts, testFilePath, withCheckTls } from './envoy-stack.js';
import { FRONTEND } from './e2e/fixture.js';
import { scenarioHeader, startFakeOpenAi, type FakeOpenAi, type Scenario } from './fake-openai.js';

/** The frontend workload (dev cert `frontend`) may chat with every model; nothing else is allowed. */
export const GATE_YAML = `
server: { shutdown_grace_seconds: 1 }
identity:
  order: [mtls]
  mtls:
    sources: [certificate, principal]
    workloads:
      - { match: '${FRONTEND}', roles: [chat_user] }
policy:
  roles: { chat_user: {} }
  rules:
    - { id: chat, effect: allow, roles: [chat_user], models: ['*'], actions: [predict] }
  targets:
    paths:
      - { pattern: '/v1/chat/completions', methods: [POST], action: predict, model_from_body: model }
`;

/** A fake of budgets' Settler: records every call; `reply` decides the answer. */
export class RecordingSettler implements Settler {
  readonly calls: SettleRequest[] = [];
  private waiters: Array<() => void> = [];
  reply: (r: SettleRequest) => Promise<SettleResult> = () => Promise.resolve({ outcome: 'settled', charged: { inputTokens: 1, outputTokens: 1, microUnits: 7 } });

  settle(r: SettleRequest): Promise<SettleResult> {
    this.calls.push(r);
    for (const w of this.waiters.splice(0)) w();
    return this.reply(r);
  }

  /** Resolves once `n` settlements were asked for (no timing: the test's own timeout bounds it). */
  async settled(n: number): Promise<SettleRequest[]> {
    while (this.calls.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return this.calls;
  }
}

/**
 * Test-only: budgets' Check answer (src/budget/) puts `reservation_id` into the ext_authz namespace.
 * Here Envoy's set_metadata filter writes one there after ext_authz ran, so these tests do not
 * depend on the ledger (budgets-envoy.test.ts runs the real one).
 */
export function withReservation(id: string) {
  return (doc: Node) => {
    const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const at = (hcm.http_filters as Node[]).findIndex((f) => f.name === 'envoy.filters.http.ext_proc');
    hcm.http_filters.splice(at, 0, {
      name: 'envoy.filters.http.set_metadata',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.set_metadata.v3.Config',
        metadata: [{ metadata_namespace: 'envoy.filters.http.ext_authz', allow_overwrite: true, value: { reservation_id: id } }],
      },
    });
  };
}

export interface LlmStackOptions {
  readonly gateYaml?: string;
  readonly settler?: Settler;
  readonly transformers?: TransformerFactory;
  readonly fake?: Scenario;
  /** Replaces the Envoy config tree before substitution (a test-only change, said so in the test). */
  readonly transform?: (doc: Node) => void;
  /** Endpoints for clusters `transform` added, by name. */
  readonly extraClusters?: Readonly<Record<string, Endpoint>>;
}

export interface StreamedReply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export interface LlmStack {
  readonly gate: Modelgate;
  readonly fake: FakeOpenAi;
  readonly envoy: TestEnvoy;
  readonly logs: Array<Record<string, unknown>>;
  /** Stops modelgate (as a crash or deploy would) and starts it again on the same Check port. */
  restartGate(): Promise<void>;
  /** POST /v1/chat/completions as the frontend workload; `scenario` goes to the fake in x-fake-openai. */
  chat(body: Record<string, unknown>, scenario?: Scenario, o?: { cert?: string | null; headers?: Record<string, string> }): Promise<StreamedReply>;
  /** Starts a chat and resolves with the response once its first body bytes arrive; the caller may destroy it. */
  chatOpen(body: Record<string, unknown>, scenario?: Scenario): Promise<{ res: IncomingMessage; first: Buffer }>;
  /** The access-log line whose ext_authz request id is `requestId` (Envoy flushes on /reopen_logs). */
  accessLine(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startLlmStack(o: LlmStackOptions = {}): Promise<LlmStack> {
  const closers: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const certs = devCerts();
    closers.push(() => rmSync(certs, { recursive: true, force: true }));
    const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-extproc-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const configFile = path.join(dir, 'modelgate.yaml');
    writeFileSync(configFile, withCheckTls(o.gateYaml ?? GATE_YAML, certs));
    const logs: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const startGate = (grpcPort: number) =>
      startModelgate({
        configFile,
        env: {},
        grpcAddress: `127.0.0.1:${grpcPort}`,
        adminAddress: '127.0.0.1:0',
        logger: pino({ level: 'debug' }, sink),
        watch: false,
        extProc: { settler: o.settler, transformers: o.transformers },
      });
    let gate = await startGate(0);
    let gateOpen = true;
    closers.push(() => (gateOpen ? gate.close() : undefined));
    const fake = await startFakeOpenAi(o.fake);
    closers.push(() => fake.close());
    const doc = readEnvoyConfig('envoy/llm.yaml');
    o.transform?.(doc);
    const adminPort = await freePort();
    const port = await freePort();
    const config = substitute(doc, {
      adminPort,
      listeners: { llm_https: port },
      clusters: {
        ...o.extraClusters,
        modelgate: { address: '127.0.0.1', port: gate.grpcPort },
        modelgate_accesslog: { address: '127.0.0.1', port: await freePort() },
        model_server: { address: '127.0.0.1', port: fake.port },
        envoy_admin: { address: '127.0.0.1', port: adminPort },
      },
      file: testFilePath(certs, dir),
    });
    const envoy = await startEnvoy({ config, adminPort, dir });
    closers.push(() => envoy.stop());

    const read = (name: string) => readFileSync(path.join(certs, name));
    const options = (body: Record<string, unknown>, scenario: Scenario | undefined, cert: string | null = 'frontend', extra: Record<string, string> = {}): RequestOptions => ({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', ...(scenario ? { 'x-fake-openai': scenarioHeader(scenario) } : {}), ...extra },
      ca: read('ca.crt'),
      ...(cert ? { cert: read(`${cert}.crt`), key: read(`${cert}.key`) } : {}),
      agent: false,
      timeout: 20_000,
    });
    const accessLog = path.join(dir, 'access.log');
    return {
      get gate() {
        return gate;
      },
      async restartGate() {
        const port = gate.grpcPort;
        gateOpen = false;
        await gate.close();
        gate = await startGate(port);
        gateOpen = true;
      },
      fake,
      envoy,
      logs,
      chat: (body, scenario, c = {}) =>
        new Promise((resolve, reject) => {
          const req = request(options(body, scenario, c.cert, c.headers), (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error('request timed out')));
          req.on('error', reject);
          req.end(JSON.stringify(body));
        }),
      chatOpen: (body, scenario) =>
        new Promise((resolve, reject) => {
          const req = request(options(body, scenario), (res) => {
            res.once('data', (first: Buffer) => resolve({ res, first }));
            res.on('error', () => undefined);
          });
          req.on('error', reject);
          req.end(JSON.stringify(body));
        }),
      async accessLine(match) {
        for (;;) {
          await adminPost(adminPort, '/reopen_logs');
          const lines = existsSync(accessLog) ? readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
          const line = lines.find(match);
          if (line) return line;
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function adminPost(port: number, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method: 'POST', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}
