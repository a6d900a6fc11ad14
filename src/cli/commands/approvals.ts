// `modelgate approvals list|approve ID --for 1h|deny ID|grants|revoke ID`: an approver's client for
// the approvals endpoint (approvals.listen), authenticated with a bearer JWT or a client certificate.
// Exit codes: 0 done, 1 refused by the server (the reason is printed), 2 could not ask.

import type { Command } from 'commander';

interface ApprovalsOptions {
  readonly url: string;
  readonly token?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  readonly json?: boolean;
  readonly for?: string;
}

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function call(options: ApprovalsOptions, method: 'GET' | 'POST', path: string, body?: object): Promise<Reply> {
  const { readFileSync } = await import('node:fs');
  const { request: httpRequest } = await import('node:http');
  const { request: httpsRequest } = await import('node:https');
  if ((options.cert === undefined) !== (options.key === undefined)) throw new Error('--cert and --key go together');
  const url = new URL(path, options.url.endsWith('/') ? options.url : `${options.url}/`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const secure = url.protocol === 'https:';
  if (!secure && options.cert !== undefined) throw new Error('--cert needs an https:// --url');
  const tls = secure
    ? {
        ...(options.ca ? { ca: readFileSync(options.ca) } : {}),
        ...(options.cert ? { cert: readFileSync(options.cert), key: readFileSync(options.key!) } : {}),
      }
    : {};
  return new Promise((done, fail) => {
    const req = (secure ? httpsRequest : httpRequest)(url, { method, headers, timeout: 10_000, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          done({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          fail(new Error(`unexpected answer (HTTP ${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', fail);
    req.end(payload);
  });
}

type Row = Record<string, unknown>;

function requestLine(r: Row): string {
  return `${String(r.id)}  ${String(r.subject)}  ${String(r.model)}  ${String(r.action)}  rule ${String(r.rule_id)}  input sha256 ${String(r.input_sha256)}  expires ${String(r.expires_at)}`;
}

function grantLine(g: Row): string {
  return `${String(g.id)}  ${String(g.subject)}  ${String(g.model)}  ${String(g.action)}  by ${String(g.approver)}  until ${String(g.expires_at)}`;
}

async function run(options: ApprovalsOptions, method: 'GET' | 'POST', path: string, body: object | undefined, format: (body: Row) => string): Promise<void> {
  const reply = await call(options, method, path, body);
  if (reply.status >= 400) {
    process.stderr.write(`refused (HTTP ${reply.status}): ${String(reply.body.error)}: ${String(reply.body.message)}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(options.json ? `${JSON.stringify(reply.body)}\n` : format(reply.body));
}

const lines = (rows: unknown, line: (r: Row) => string, none: string) => {
  const list = Array.isArray(rows) ? (rows as Row[]) : [];
  return list.length === 0 ? `${none}\n` : `${list.map(line).join('\n')}\n`;
};

export function register(program: Command): void {
  const approvals = program.command('approvals').description('list, approve, deny and revoke just-in-time approvals (the approvals endpoint)');
  const common = (command: Command) =>
    command
      .option('--url <url>', 'approvals endpoint (approvals.listen)', 'http://127.0.0.1:9195')
      .option('--token <jwt>', 'bearer JWT of the approver')
      .option('--cert <file>', 'client certificate (PEM) of the approver; needs an https:// URL')
      .option('--key <file>', 'private key (PEM) for --cert')
      .option('--ca <file>', "CA (PEM) that signs the endpoint's server certificate")
      .option('--json', 'print the JSON answer');
  const id = (path: string, value: string) => `${path}/${encodeURIComponent(value)}`;

  common(approvals.command('list'))
    .description('pending requests you may decide')
    .action((options: ApprovalsOptions) => run(options, 'GET', 'v1/approvals', undefined, (b) => lines(b.pending, requestLine, 'no pending approvals')));

  common(approvals.command('approve'))
    .argument('<id>', 'approval id (apr_…) from the deny body or `approvals list`')
    .option('--for <duration>', 'how long the grant lasts, e.g. 30m, 1h (default approvals.default_grant)')
    .description('grant the request: its subject may call its model with its action until the grant expires')
    .action((value: string, options: ApprovalsOptions) =>
      run(options, 'POST', `${id('v1/approvals', value)}/approve`, options.for === undefined ? {} : { for: options.for }, (b) => `granted ${grantLine(b.grant as Row)}\n`),
    );

  common(approvals.command('deny'))
    .argument('<id>', 'approval id (apr_…)')
    .description('refuse the request')
    .action((value: string, options: ApprovalsOptions) => run(options, 'POST', `${id('v1/approvals', value)}/deny`, {}, (b) => `denied ${requestLine(b.denied as Row)}\n`));

  common(approvals.command('grants'))
    .description('live grants you may revoke')
    .action((options: ApprovalsOptions) => run(options, 'GET', 'v1/grants', undefined, (b) => lines(b.grants, grantLine, 'no live grants')));

  common(approvals.command('revoke'))
    .argument('<id>', 'grant id (grt_…)')
    .description('end a grant now')
    .action((value: string, options: ApprovalsOptions) => run(options, 'POST', `${id('v1/grants', value)}/revoke`, {}, (b) => `revoked ${grantLine(b.revoked as Row)}\n`));
}
