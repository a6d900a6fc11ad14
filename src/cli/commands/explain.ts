// `modelgate explain`: runs one request through the real pipeline (no server) and prints every
// stage's outcome: identity, target, each rule and why, the buckets charged, the answer.

import type { Command } from 'commander';
import { keyValues } from '../key-values.js';

interface ExplainOptions {
  config?: string;
  request?: string;
  decisionId?: string;
  method: string;
  path: string;
  host?: string;
  token?: string;
  apiKey?: string;
  principal?: string;
  jwtClaims?: string;
  apiKeyId?: string;
  header: string[];
  ext: string[];
  body?: string;
  partialBody?: boolean;
  now?: string;
  repeat: string;
  json?: boolean;
}


export function register(program: Command): void {
  program
    .command('explain')
    .description('explain how a config decides one request, stage by stage (no server needed)')
    .option('-c, --config <file>', 'config file (default: the example config; env MODELGATE_CONFIG)')
    .option('--request <file>', 'a CheckRequest JSON, or a decision-log line (JSON lines: the last one, or --decision-id)')
    .option('--decision-id <id>', 'with --request: the decision-log line to explain')
    .option('-X, --method <method>', 'HTTP method', 'POST')
    .option('--path <path>', 'request path', '/v1/models/fraud-detector:predict')
    .option('--host <host>', 'request host')
    .option('--token <jwt>', 'send Authorization: Bearer <jwt> (verified with the config\'s real keys)')
    .option('--api-key <key>', 'send the API key (verified with the real secret from env or file)')
    .option('--principal <san>', 'client certificate SAN as Envoy passes it in source.principal')
    .option('--jwt-claims <json>', 'a token with these claims, signed by a throwaway key standing in for the issuer\'s')
    .option('--api-key-id <id>', 'a test key for this configured key id (no secret needed)')
    .option('-H, --header <name=value...>', 'extra request headers', [])
    .option('--ext <key=value...>', 'context_extensions (model=…, action=…)', [])
    .option('--body <json>', 'request body (as with_request_body sends it)')
    .option('--partial-body', 'mark the body as cut by Envoy (x-envoy-auth-partial-body: true)')
    .option('--now <iso-datetime>', 'the clock for this check (default: now)')
    .option('--repeat <n>', 'send the request n times first to spend limits; explain the last', '1')
    .option('--json', 'print the explanation as JSON')
    .action(async (opts: ExplainOptions) => {
      const { readFileSync } = await import('node:fs');
      const { loadConfig } = await import('../../config/load.js');
      const { ConfigError } = await import('../../config/problems.js');
      const { createHarness } = await import('../../policy-test/harness.js');
      const { requestSchema } = await import('../../policy-test/test-file.js');
      const { checkInputFromMessage } = await import('../../grpc/decode-message.js');
      const { parseRequestSource } = await import('../../explain/request-source.js');
      const { explain } = await import('../../explain/explain.js');
      const { renderExplanation } = await import('../../explain/render.js');

      let configFile = opts.config ?? process.env.MODELGATE_CONFIG;
      if (!configFile) {
        const dev = await import('../dev-assets.js');
        configFile = dev.EXAMPLE_CONFIG;
      }
      let loaded;
      try {
        loaded = loadConfig(configFile, process.env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        process.stderr.write(`${error.lines.join('\n')}\n`);
        process.exitCode = 2;
        return;
      }

      const headers = keyValues(opts.header);
      if (opts.token) headers[(loaded.config.identity.jwt?.header ?? 'authorization').toLowerCase()] = `Bearer ${opts.token}`;
      if (opts.apiKey) headers[(loaded.config.identity.api_keys?.header ?? 'x-api-key').toLowerCase()] = opts.apiKey;
      const source = opts.request
        ? parseRequestSource(readFileSync(opts.request, 'utf8'), { decisionId: opts.decisionId, contextKeys: loaded.config.policy.targets.context_extensions })
        : undefined;
      const request = requestSchema.parse(
        source?.kind === 'decision_log'
          ? source.request
          : {
              method: opts.method.toUpperCase(),
              path: opts.path,
              host: opts.host,
              headers,
              context_extensions: keyValues(opts.ext),
              body: opts.body,
              partial_body: Boolean(opts.partialBody),
              principal: opts.principal,
              jwt_claims: opts.jwtClaims ? (JSON.parse(opts.jwtClaims) as Record<string, unknown>) : undefined,
              api_key_id: opts.apiKeyId,
            },
      );
      // Real credentials are verified with the deployment's keys and secrets; anything else runs
      // with test identities, so no secret is needed to explain a policy.
      const realCredential = source?.kind === 'check_request' || opts.token !== undefined || opts.apiKey !== undefined;
      const nowMs = opts.now ? Date.parse(opts.now) : Date.now();
      if (Number.isNaN(nowMs)) throw new Error(`--now: not a date-time: ${opts.now}`);
      const harness = await createHarness(loaded, { nowMs, realIdentity: realCredential ? { env: process.env } : undefined });
      if ('problems' in harness) {
        process.stderr.write(`${harness.problems.join('\n')}\n`);
        if (realCredential) process.stderr.write('(a real token or API key needs the real keys and secrets; --jwt-claims / --api-key-id need none)\n');
        process.exitCode = 2;
        return;
      }
      try {
        const repeat = Math.max(1, Number(opts.repeat) || 1);
        let run;
        for (let i = 0; i < repeat; i++) {
          const input = source?.kind === 'check_request' ? checkInputFromMessage(source.request) : await harness.input(request, `explain-${i}`);
          if (!input) throw new Error('the CheckRequest has no attributes.request.http');
          run = await harness.run(input, request);
        }
        const explanation = explain(loaded.config, run!);
        const notes = source?.kind === 'decision_log' ? source.notes : [];
        process.stdout.write(opts.json ? `${JSON.stringify({ ...explanation, notes }, null, 2)}\n` : `${renderExplanation(explanation, notes)}\n`);
        process.exitCode = run!.decision.allowed ? 0 : 1;
      } finally {
        await harness.close();
      }
    });
}
