// Composition for the access-log receiver's own listener, from `audit.receiver`: mTLS credentials and
// the allowed senders, stream and rate bounds, message size. One place for `serve` and `audit serve`.

import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { startAccessLogServer, type AccessLogReceiverOptions, type AccessLogServer } from './als-receiver.js';
import type { AuditConfig } from './config.js';
import { allowedSenders, exposureProblem, loopbackSender, type SenderCheck } from './receiver-access.js';
import { receiverBudget } from './receiver-budget.js';

export type ReceiverConfig = AuditConfig['receiver'];

export interface AuditReceiverDeps extends Pick<AccessLogReceiverOptions, 'sink' | 'privacy' | 'onEvent'> {
  /** Overrides `listen` (the --listen flag of `audit serve`); judged like the configured one. */
  readonly listen?: string;
  readonly now?: () => number;
}

export type AuditReceiverResult = { ok: true; server: AccessLogServer } | { ok: false; error: string };

interface Access {
  /** Undefined: plaintext, which startAccessLogServer allows on loopback only. */
  readonly credentials?: grpc.ServerCredentials;
  readonly admit: SenderCheck;
}

async function loadAccess(tls: ReceiverConfig['tls']): Promise<{ ok: true; access: Access } | { ok: false; error: string }> {
  if (!tls) return { ok: true, access: { admit: loopbackSender } };
  const files: Array<[string, string]> = [
    ['cert_file', tls.cert_file],
    ['key_file', tls.key_file],
    ['client_ca_file', tls.client_ca_file],
  ];
  const read: Buffer[] = [];
  for (const [key, file] of files) {
    try {
      read.push(await readFile(file));
    } catch (error) {
      return { ok: false, error: `audit.receiver.tls.${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    }
  }
  const [cert, key, ca] = read as [Buffer, Buffer, Buffer];
  try {
    // true: a client certificate is required and must chain to client_ca_file, or the handshake fails.
    const credentials = grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true);
    return { ok: true, access: { credentials, admit: allowedSenders(tls.allowed_sans) } };
  } catch (error) {
    return { ok: false, error: `audit.receiver.tls: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Starts the receiver, or says which key is wrong (a bind failure rejects, as other listeners do). */
export async function startAuditReceiver(config: ReceiverConfig, deps: AuditReceiverDeps): Promise<AuditReceiverResult> {
  const listen = deps.listen ?? config.listen;
  const exposed = exposureProblem(listen, config.tls);
  if (exposed) return { ok: false, error: `audit.receiver.listen: ${exposed}` };
  const loaded = await loadAccess(config.tls);
  if (!loaded.ok) return loaded;
  const budget = receiverBudget(
    { maxStreams: config.max_streams, entriesPerSecond: config.max_entries_per_second, burst: config.burst_entries ?? 2 * config.max_entries_per_second },
    deps.now,
  );
  const server = await startAccessLogServer({
    listen,
    ...(loaded.access.credentials ? { credentials: loaded.access.credentials } : {}),
    admit: loaded.access.admit,
    budget,
    sink: deps.sink,
    privacy: deps.privacy,
    maxPendingRecords: config.max_pending_records,
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    // No per-connection HTTP/2 stream cap: one there would make a stream over max_streams wait
    // unseen on its connection; the receiver's own count refuses it, visibly and counted.
    serverOptions: { 'grpc.max_receive_message_length': config.max_message_bytes },
  });
  return { ok: true, server };
}
