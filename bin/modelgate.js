#!/usr/bin/env node
// The installed `modelgate` command: the compiled CLI when `npm run build` made one, else the
// TypeScript sources through tsx (a checkout, or `npm install -g .` from one).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const built = new URL('dist/cli/index.js', root);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('src/cli/index.ts', root).href);
}
