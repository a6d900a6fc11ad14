// The one admin port of `serve --workers N`: the primary serves /metrics aggregated over every worker
// (prom-client's AggregatorRegistry) and a /readyz that holds only while every live worker is ready.
// Workers serve no admin port; they answer both questions over the cluster IPC channel.

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { startAdminServer, type AdminServerHandle, type Readiness } from './server.js';

/** A worker that has not answered a readiness request by then counts as not ready. */
export const WORKER_READY_TIMEOUT_MS = 1_000;

interface ReadyRequest {
  readonly modelgate: 'readyz?';
  readonly id: number;
}
interface ReadyAnswer extends Readiness {
  readonly modelgate: 'readyz';
  readonly id: number;
}

export interface PrimaryAnswers {
  /** The instance now serves: its registry is what the primary aggregates, its readiness what it asks. */
  serving(instance: { readonly registry: Registry; readonly ready: () => Promise<Readiness> }): void;
}

/**
 * In a worker, before it starts serving, so a scrape or probe never waits out a timeout on it: until
 * `serving`, it reports no metrics (it has counted nothing yet) and "starting".
 */
export function answerPrimary(): PrimaryAnswers {
  // prom-client's worker side listens for the primary's requests only once an AggregatorRegistry is
  // constructed in the process; setRegistries alone would leave the primary waiting out its 5 s.
  AggregatorRegistry.setRegistries([]);
  new AggregatorRegistry();
  let ready = async (): Promise<Readiness> => ({ ready: false, detail: 'starting' });
  process.on('message', (message: Partial<ReadyRequest> | null) => {
    if (message?.modelgate !== 'readyz?' || typeof message.id !== 'number') return;
    const id = message.id;
    void ready().then(({ ready, degraded, detail }) => {
      if (process.connected) process.send?.({ modelgate: 'readyz', id, ready, degraded, detail } satisfies ReadyAnswer);
    });
  });
  return {
    serving(instance) {
      AggregatorRegistry.setRegistries([instance.registry]);
      ready = instance.ready;
    },
  };
}

export interface ClusterAdminOptions {
  /** `host:port`, resolved as a single process resolves its own. */
  readonly address: string;
  /** The live workers. */
  readonly workers: () => readonly Worker[];
  /** The primary is stopping the group: not ready, whatever the workers say. */
  readonly stopping: () => boolean;
  readonly readyTimeoutMs?: number;
}

/** In the primary: the admin server, with /metrics and /readyz answered by asking the workers. */
export async function startClusterAdmin(options: ClusterAdminOptions): Promise<AdminServerHandle> {
  const aggregator = new AggregatorRegistry();
  const timeoutMs = options.readyTimeoutMs ?? WORKER_READY_TIMEOUT_MS;
  const pending = new Map<number, (answer: Readiness) => void>();
  let nextId = 0;
  const onMessage = (_worker: Worker, message: Partial<ReadyAnswer> | null) => {
    if (message?.modelgate !== 'readyz' || typeof message.id !== 'number') return;
    pending.get(message.id)?.({ ready: message.ready === true, degraded: message.degraded === true, detail: String(message.detail) });
  };
  cluster.on('message', onMessage);

  const ask = (worker: Worker): Promise<Readiness> =>
    new Promise((resolve) => {
      const id = nextId++;
      const settle = (answer: Readiness) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(answer);
      };
      const timer = setTimeout(() => settle({ ready: false, detail: `no answer in ${timeoutMs} ms` }), timeoutMs);
      pending.set(id, settle);
      if (!worker.isConnected()) return settle({ ready: false, detail: 'not connected' });
      worker.send({ modelgate: 'readyz?', id } satisfies ReadyRequest, (error) => {
        if (error) settle({ ready: false, detail: 'not connected' });
      });
    });

  const ready = async (): Promise<Readiness> => {
    if (options.stopping()) return { ready: false, detail: 'shutting down' };
    const workers = options.workers();
    if (workers.length === 0) return { ready: false, detail: 'not ready: no workers' };
    const answers = await Promise.all(workers.map(ask));
    const readyCount = answers.filter((a) => a.ready).length;
    const ready = readyCount === workers.length;
    const degraded = answers.some((a) => a.degraded);
    const verdict = ready ? (degraded ? 'ready (degraded)' : 'ready') : 'not ready';
    const summary = `${verdict}: ${readyCount} of ${workers.length} workers ready`;
    const lines = workers.map((w, i) => `worker ${w.process.pid}: ${answers[i]!.detail}`);
    return { ready, degraded, detail: [summary, ...lines].join('\n') };
  };

  const server = await startAdminServer({
    address: options.address,
    metrics: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
    ready,
  }).catch((error: unknown) => {
    cluster.off('message', onMessage);
    throw error;
  });
  return {
    port: server.port,
    async close() {
      cluster.off('message', onMessage);
      await server.close();
    },
  };
}
