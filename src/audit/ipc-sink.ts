// The audit store has one writer (store-lock.ts): with `serve --workers N` that is the cluster
// primary. Workers receive Envoy's access-log streams on the shared receiver port and hand their
// records to the primary over the cluster IPC channel; the primary appends them to its store.

import type { Worker } from 'node:cluster';
import type { AppendResult, AuditSink } from './sink.js';
import type { AuditRecord } from './record.js';

interface AppendRequest {
  readonly modelgate: 'audit-append';
  readonly id: number;
  readonly records: readonly AuditRecord[];
}

interface AppendAnswer {
  readonly modelgate: 'audit-appended';
  readonly id: number;
  readonly lastSeq?: number;
  readonly error?: string;
}

/**
 * A worker's sink. Keeps the AuditSink contract: `append` resolves once the primary has the records
 * fsynced in its chain, and rejects when they may not be (the primary is gone or its store broke),
 * so the receiver fails the stream and Envoy's logger sends the entries again.
 */
export function primaryAuditSink(channel: NodeJS.Process = process): AuditSink {
  let next = 0;
  const waiting = new Map<number, { resolve: (r: AppendResult) => void; reject: (e: Error) => void }>();
  channel.on('message', (message: Partial<AppendAnswer> | null) => {
    if (message?.modelgate !== 'audit-appended' || typeof message.id !== 'number') return;
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.error !== undefined) pending.reject(new Error(`audit store (primary): ${message.error}`));
    else pending.resolve({ lastSeq: message.lastSeq ?? 0 });
  });
  channel.on('disconnect', () => {
    for (const pending of waiting.values()) pending.reject(new Error('audit store (primary): IPC channel closed'));
    waiting.clear();
  });
  return {
    append(records) {
      return new Promise((resolve, reject) => {
        if (!channel.connected || !channel.send) return reject(new Error('audit store (primary): IPC channel closed'));
        const id = next++;
        waiting.set(id, { resolve, reject });
        channel.send({ modelgate: 'audit-append', id, records } satisfies AppendRequest, (error: Error | null) => {
          if (!error) return;
          waiting.delete(id);
          reject(error);
        });
      });
    },
  };
}

/** The primary's side: appends each worker's records to the one store, in the order they arrive. */
export function serveAuditAppends(worker: Worker, sink: AuditSink): void {
  worker.on('message', (message: Partial<AppendRequest> | null) => {
    if (message?.modelgate !== 'audit-append' || typeof message.id !== 'number' || !Array.isArray(message.records)) return;
    const { id } = message;
    const answer = (a: Omit<AppendAnswer, 'modelgate' | 'id'>) => {
      if (worker.isConnected()) worker.send({ modelgate: 'audit-appended', id, ...a } satisfies AppendAnswer);
    };
    sink.append(message.records).then(
      (result) => answer({ lastSeq: result.lastSeq }),
      (error: unknown) => answer({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}
