#!/usr/bin/env node
// A stand-in model server for the compose demo and tests: no dependencies, no model. It answers
// which model was called and the identity headers modelgate's answer made Envoy add, so a curl
// through Envoy shows what the upstream really receives.
//
//   PORT=8080 node examples/model-server/server.mjs      (PORT=0 picks a free port)

import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const MAX_BODY = 1 << 20;
const MODEL_PATH = /^\/v1\/models\/([^/:]+)(?::([A-Za-z]+))?$/;

/** The model and verb a request names: from the path, or an OpenAI-style body's "model". */
function target(pathname, body) {
  const match = MODEL_PATH.exec(pathname);
  if (match) return { model: decodeURIComponent(match[1]), verb: match[2] ?? 'read' };
  try {
    const parsed = JSON.parse(body);
    if (parsed && typeof parsed.model === 'string') return { model: parsed.model, verb: 'chat' };
  } catch {
    // not JSON: no model in the body
  }
  return { model: null, verb: null };
}

/** The headers an operator wants to see arrive (or not): identity from modelgate, mTLS details. */
function identityHeaders(headers) {
  const picked = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-modelgate-') || name === 'x-forwarded-client-cert' || name === 'x-request-id') {
      picked[name] = value;
    }
  }
  return picked;
}

function send(res, status, payload) {
  const body = `${JSON.stringify(payload)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function createModelServer() {
  return createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://model-server');
      if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
      if (size > MAX_BODY) return send(res, 413, { error: 'body_too_large' });
      const { model, verb } = target(url.pathname, Buffer.concat(chunks).toString('utf8'));
      if (!model) return send(res, 404, { error: 'no_model', path: url.pathname });
      send(res, 200, {
        model,
        verb,
        method: req.method,
        path: url.pathname,
        prediction: { score: 0.42, stand_in: true },
        identity: identityHeaders(req.headers),
        // Proof that modelgate's headers_to_remove worked: the credential never reaches the model.
        authorization_received: req.headers.authorization !== undefined,
      });
    });
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const server = createModelServer();
  server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '0.0.0.0', () => {
    process.stdout.write(`model-server listening on ${server.address().port}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
