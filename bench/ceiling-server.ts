// The ceiling: a no-op grpc-js Check server that decodes the CheckRequest with modelgate's own protos
// and answers OK. Whatever it reaches is the limit of this stack on this machine.
//
//   node --import tsx bench/ceiling-server.ts --port 9300 [--workers 2]
// Prints `ready <port>` on stdout; exits on SIGTERM (and on its own after --max-seconds, default 1800).

import cluster from 'node:cluster';
import * as grpc from '@grpc/grpc-js';
import { authorizationServiceDefinition } from '../src/grpc/protos.js';
import type { PbCheckRequest, PbCheckResponse } from '../src/grpc/envoy-types.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const port = Number(arg('port', '0'));
const workers = Number(arg('workers', '1'));
const maxSeconds = Number(arg('max-seconds', '1800'));

const OK: PbCheckResponse = { status: { code: 0 } };

async function serve(): Promise<void> {
  const server = new grpc.Server();
  server.addService(authorizationServiceDefinition(), {
    Check: (call: grpc.ServerUnaryCall<PbCheckRequest, PbCheckResponse>, callback: grpc.sendUnaryData<PbCheckResponse>) => {
      // Touch the decoded request so the decode cannot be skipped, like a real handler's first read.
      if (!call.request.attributes?.request?.http) return callback({ code: grpc.status.INVALID_ARGUMENT });
      callback(null, OK);
    },
  });
  const bound = await new Promise<number>((ok, fail) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  if (cluster.isWorker) process.send?.({ ready: bound });
  else process.stdout.write(`ready ${bound}\n`);
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

if (workers > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (m: { ready?: number }) => {
      if (m.ready !== undefined && ++ready === workers) process.stdout.write(`ready ${m.ready}\n`);
    });
  }
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
  setTimeout(stop, maxSeconds * 1000).unref();
} else {
  await serve();
  if (!cluster.isWorker) setTimeout(() => process.exit(0), maxSeconds * 1000).unref();
}
