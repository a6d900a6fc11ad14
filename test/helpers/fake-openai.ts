// An OpenAI-style model server for end-to-end tests: /v1/chat/completions answering JSON or SSE with
// usage, with the faults a real one has (5xx, mid-stream resets, slow streams, usage over max_tokens).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly cached_tokens?: number;
}

/** How one request is answered; per request via the `x-fake-openai` header (scenarioHeader), else the server's default. */
export interface Scenario {
  /** HTTP status; >= 400 answers an OpenAI-style error body. */
  readonly status?: number;
  /** Reply text (streamed word by word). */
  readonly content?: string;
  /** The reply text is `content` this many times (a large answer without a large header). */
  readonly repeat?: number;
  /** Usage to report; default: prompt = request chars / 4, completion = max_tokens ?? 16. null: none. */
  readonly usage?: FakeUsage | null;
  /** Split the raw response body into writes of this many bytes (SSE lines and UTF-8 split anywhere). */
  readonly chunkBytes?: number;
  /** Wait this long between writes (a slow stream). */
  readonly delayMs?: number;
  /** Destroy the connection after writing this many body bytes (an upstream reset). */
  readonly resetAfterBytes?: number;
  /** Write this many body bytes, then wait until the peer goes away (a client cancel test). */
  readonly stallAfterBytes?: number;
  /** Answer nothing until `release()` (requests held in flight, as a slow model does). */
  readonly hold?: boolean;
  /** Extra response headers (usage headers, another content-type). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The `x-fake-openai` header value for a scenario: base64url JSON, so any text fits in a header. */
export function scenarioHeader(scenario: Scenario): string {
  return Buffer.from(JSON.stringify(scenario)).toString('base64url');
}

export interface ChatRequest {
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

export interface FakeOpenAi {
  readonly port: number;
  readonly received: ChatRequest[];
  /** The exact body bytes of every response it sent or began, in order. */
  readonly sent: Buffer[];
  /** Lets every held request (scenario `hold`) answer. */
  release(): void;
  /** Resolves once `n` responses ended one way or another (finished, reset, peer gone). */
  closedResponses(n: number): Promise<void>;
  close(): Promise<void>;
}

/** The JSON body, or the SSE stream, a scenario answers `request` with. */
export function responseBody(request: Record<string, unknown>, scenario: Scenario): { type: string; body: Buffer } {
  const content = (scenario.content ?? 'Hello from the fake model.').repeat(scenario.repeat ?? 1);
  const base = { id: 'chatcmpl-fake', created: 1_700_000_000, model: String(request.model ?? 'fake') };
  const usage = usageFor(request, scenario);
  const status = scenario.status ?? 200;
  if (status >= 400) {
    return { type: 'application/json', body: Buffer.from(JSON.stringify({ error: { message: 'fake failure', type: 'server_error' } })) };
  }
  if (request.stream !== true) {
    const message = { role: 'assistant', content };
    const json = { ...base, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }], ...(usage ? { usage } : {}) };
    return { type: 'application/json', body: Buffer.from(JSON.stringify(json)) };
  }
  const includeUsage = (request.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunk = (choices: unknown[], extra: object = {}) =>
    `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  let sse = chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  for (const word of content.split(/(?<= )/)) sse += chunk([{ index: 0, delta: { content: word }, finish_reason: null }]);
  sse += chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  if (includeUsage && usage) sse += chunk([], { usage });
  sse += 'data: [DONE]\n\n';
  return { type: 'text/event-stream', body: Buffer.from(sse) };
}

function usageFor(request: Record<string, unknown>, scenario: Scenario): Record<string, unknown> | undefined {
  if (scenario.usage === null) return undefined;
  const prompt = scenario.usage?.prompt_tokens ?? Math.ceil(JSON.stringify(request.messages ?? []).length / 4);
  const completion = scenario.usage?.completion_tokens ?? (typeof request.max_tokens === 'number' ? request.max_tokens : 16);
  const cached = scenario.usage?.cached_tokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: cached } }),
  };
}

export async function startFakeOpenAi(defaults: Scenario = {}): Promise<FakeOpenAi> {
  const received: ChatRequest[] = [];
  const sent: Buffer[] = [];
  let closed = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const onClosed = () => {
    closed += 1;
    for (const w of waiters.splice(0)) {
      if (closed >= w.n) w.resolve();
      else waiters.push(w);
    }
  };
  let released: () => void = () => undefined;
  let held = new Promise<void>((resolve) => (released = resolve));
  const release = () => {
    released();
    held = new Promise<void>((resolve) => (released = resolve));
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.once('close', onClosed);
      void answer(req, res, Buffer.concat(chunks), defaults, received, sent, () => held).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    sent,
    release,
    closedResponses: (n) => new Promise((resolve) => (closed >= n ? resolve() : waiters.push({ n, resolve }))),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  raw: Buffer,
  defaults: Scenario,
  received: ChatRequest[],
  sent: Buffer[],
  held: () => Promise<void>,
): Promise<void> {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    // an unparsable request is answered like any other
  }
  received.push({ headers: req.headers, body });
  const header = req.headers['x-fake-openai'];
  const scenario: Scenario = { ...defaults, ...(typeof header === 'string' ? (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Scenario) : {}) };
  if (req.url !== '/v1/chat/completions') {
    res.writeHead(404).end();
    return;
  }
  if (scenario.hold) await held();
  if (res.destroyed) return;
  const { type, body: out } = responseBody(body, scenario);
  sent.push(out);
  const status = scenario.status ?? 200;
  // Streams and faults go out chunked; a plain JSON answer carries content-length like a real server.
  const chunked = type === 'text/event-stream' || scenario.chunkBytes !== undefined || scenario.resetAfterBytes !== undefined || scenario.stallAfterBytes !== undefined;
  res.writeHead(status, { 'content-type': type, ...(chunked ? {} : { 'content-length': String(out.length) }), ...scenario.headers });
  const step = scenario.chunkBytes ?? out.length;
  const stop = scenario.resetAfterBytes ?? scenario.stallAfterBytes ?? Infinity;
  for (let at = 0; at < out.length; at += step) {
    if (at >= stop) break;
    res.write(out.subarray(at, Math.min(at + step, out.length, stop)));
    if (scenario.delayMs) await new Promise((r) => setTimeout(r, scenario.delayMs));
    if (res.destroyed) return;
  }
  if (scenario.resetAfterBytes !== undefined) {
    res.destroy();
    return;
  }
  if (scenario.stallAfterBytes !== undefined) return; // until the peer closes (res 'close')
  res.end();
}
