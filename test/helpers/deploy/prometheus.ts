// A real Prometheus (Debian's `prometheus` package) for tests: free port, temp storage, 1 s scrape
// and rule-evaluation interval, killed on teardown; plus typed calls to its HTTP API.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../serve-process.js';

export const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus';
export const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

/** Never a silent skip: .ci/run installs the package, and a machine without it should say so. */
export function requirePrometheus(): void {
  for (const bin of [PROMETHEUS, PROMTOOL]) {
    if (!existsSync(bin)) throw new Error(`${bin} not found: apt-get install prometheus (as .ci/run does), or set PROMETHEUS / PROMTOOL`);
  }
}

export interface PrometheusServer {
  readonly url: string;
  /** Instant query at now; throws on an HTTP or PromQL error (the message is Prometheus's). */
  query(expr: string): Promise<InstantSample[]>;
  /** GET an /api/v1 path; throws unless status is "success". */
  api<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export interface InstantSample {
  readonly metric: Record<string, string>;
  /** [unix seconds, value as Prometheus prints it: a number, "NaN", "+Inf"] */
  readonly value: [number, string];
}

export interface PrometheusOptions {
  /** job name → `host:port` targets scraped at /metrics. */
  readonly targets: Record<string, readonly string[]>;
  /** Absolute paths of rule files to load. */
  readonly ruleFiles?: readonly string[];
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: Object.entries(options.targets).map(([job, targets]) => ({ job_name: job, static_configs: [{ targets }] })),
  };
  // JSON is YAML: no second serializer needed.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  let stderr = '';
  const child = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  live.add(child);
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}`);
    const body = (await res.json()) as { status: string; data: T; errorType?: string; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: InstantSample[] | [number, string] }>(`query?query=${encodeURIComponent(expr)}`);
      // A scalar (e.g. time()) is one value, not a vector.
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      return data.result as InstantSample[];
    },
    stop,
  };
}
