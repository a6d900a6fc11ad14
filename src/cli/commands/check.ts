// `modelgate check`: sends one Envoy-shaped CheckRequest to a running server and prints the answer.

import type { Command } from 'commander';
import { keyValues } from '../key-values.js';

interface CheckOptions {
  address: string;
  method: string;
  path: string;
  token?: string;
  apiKey?: string;
  principal?: string;
  header: string[];
  ext: string[];
  body?: string;
  json?: boolean;
}


export function register(program: Command): void {
  program
    .command('check')
    .description('send an Envoy-shaped CheckRequest to a running modelgate; exit 0 on allow, 1 on deny')
    .option('--address <host:port>', 'modelgate gRPC address', 'localhost:9191')
    .option('-X, --method <method>', 'HTTP method', 'POST')
    .option('--path <path>', 'request path', '/v1/models/fraud-detector:predict')
    .option('--token <jwt>', 'send Authorization: Bearer <jwt>')
    .option('--api-key <key>', 'send x-api-key: <key>')
    .option('--principal <san>', 'client certificate SAN as Envoy passes it in source.principal')
    .option('-H, --header <name=value...>', 'extra request headers', [])
    .option('--ext <key=value...>', 'context_extensions (model=…, action=…)', [])
    .option('--body <json>', 'request body (as with_request_body sends it)')
    .option('--json', 'print the raw CheckResponse as JSON')
    .action(async (opts: CheckOptions) => {
      const { checkClient, envoyCheckRequest } = await import('../../grpc/client.js');
      const { structToJson } = await import('../../grpc/struct.js');
      const { httpStatusNumber } = await import('../../grpc/protos.js');
      const headers = keyValues(opts.header);
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.apiKey) headers['x-api-key'] = opts.apiKey;
      const client = checkClient(opts.address);
      try {
        const res = await client.check(
          envoyCheckRequest({
            method: opts.method,
            path: opts.path,
            headers,
            body: opts.body,
            principal: opts.principal,
            contextExtensions: keyValues(opts.ext),
          }),
        );
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
        } else {
          const allowed = res.status?.code === 0;
          const meta = structToJson(res.dynamic_metadata);
          // The client decodes enums by name (`Unauthorized`); print the number, as for ALLOW 200.
          const denied = res.denied_response?.status?.code as number | string | undefined;
          const status = allowed ? 200 : typeof denied === 'string' ? httpStatusNumber(denied) : denied;
          process.stdout.write(`${allowed ? 'ALLOW' : 'DENY'} ${status} reason=${String(meta.reason)}\n`);
          const headerList = allowed ? res.ok_response?.headers : res.denied_response?.headers;
          for (const h of headerList ?? []) process.stdout.write(`  ${h.header.key}: ${h.header.value}\n`);
          for (const h of res.ok_response?.headers_to_remove ?? []) process.stdout.write(`  (removed) ${h}\n`);
          if (!allowed && res.denied_response?.body) process.stdout.write(`  body: ${res.denied_response.body}\n`);
          process.stdout.write(`  metadata: ${JSON.stringify(meta)}\n`);
        }
        process.exitCode = res.status?.code === 0 ? 0 : 1;
      } finally {
        client.close();
      }
    });
}
