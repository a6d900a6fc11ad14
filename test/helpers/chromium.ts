// A real headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe:
// no npm browser library, no WebSocket, no downloaded browser. Opens a page, evaluates in it,
// records every network request and console/CSP message, and takes full-page screenshots.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM_INSTALL_HINT = 'install it with `apt-get install chromium` (or set MODELGATE_CHROMIUM_BIN)';

export function findChromium(): string | undefined {
  const fromEnv = process.env['MODELGATE_CHROMIUM_BIN'];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
}

export const CHROMIUM_BIN = findChromium();
if (!CHROMIUM_BIN && process.env['CI']) {
  // In CI the browser tests must run: a missing binary is a broken install step, not a skip.
  throw new Error(`CI=true but no Chromium was found: ${CHROMIUM_INSTALL_HINT}`);
}

type Json = Record<string, unknown>;
interface Pending {
  resolve(result: Json): void;
  reject(error: Error): void;
}

/** One DevTools connection: `--remote-debugging-pipe` reads commands on fd 3 and writes on fd 4, NUL-terminated JSON. */
class Connection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((method: string, params: Json, sessionId?: string) => void)[] = [];
  private buffer = '';

  constructor(
    private readonly out: Writable,
    input: Readable,
  ) {
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        this.dispatch(JSON.parse(this.buffer.slice(0, end)) as Json);
        this.buffer = this.buffer.slice(end + 1);
      }
    });
    input.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('Chromium closed the DevTools pipe'));
      this.pending.clear();
    });
  }

  private dispatch(message: Json): void {
    if (typeof message['id'] === 'number') {
      const p = this.pending.get(message['id']);
      this.pending.delete(message['id']);
      const error = message['error'] as { message: string } | undefined;
      if (error) p?.reject(new Error(`DevTools: ${error.message}`));
      else p?.resolve((message['result'] ?? {}) as Json);
      return;
    }
    for (const l of this.listeners) l(message['method'] as string, (message['params'] ?? {}) as Json, message['sessionId'] as string | undefined);
  }

  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.out.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  on(listener: (method: string, params: Json, sessionId?: string) => void): void {
    this.listeners.push(listener);
  }
}

export interface Page {
  /** URLs of every request the page made, the page's own document included. */
  readonly requests: string[];
  /** Console calls and browser log entries (CSP violations land here), as `level: text`. */
  readonly messages: string[];
  /** Evaluates an expression in the page and returns its JSON value; throws on an exception. */
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the whole page (not only the viewport). */
  screenshot(file: string): Promise<void>;
}

export interface Browser {
  open(url: string): Promise<Page>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!CHROMIUM_BIN) throw new Error(`no Chromium: ${CHROMIUM_INSTALL_HINT}`);
  const profile = mkdtempSync(path.join(tmpdir(), 'modelgate-chromium-'));
  const args = ['--headless=new', '--no-sandbox', '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--no-first-run', '--disable-gpu',
    '--disable-dev-shm-usage', '--disable-extensions', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--hide-scrollbars', '--mute-audio', 'about:blank'];
  const child: ChildProcess = spawn(CHROMIUM_BIN, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cdp = new Connection(child.stdio[3] as Writable, child.stdio[4] as Readable);
  try {
    await Promise.race([cdp.send('Browser.getVersion'), exited.then(() => Promise.reject(new Error(`Chromium exited at start:\n${stderr}`)))]);
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }

  const open = async (url: string): Promise<Page> => {
    const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const requests: string[] = [];
    const messages: string[] = [];
    let loaded: () => void = () => {};
    const load = new Promise<void>((resolve) => (loaded = resolve));
    cdp.on((method, params, from) => {
      if (from !== sessionId) return;
      if (method === 'Network.requestWillBeSent') requests.push((params['request'] as { url: string }).url);
      if (method === 'Page.loadEventFired') loaded();
      if (method === 'Log.entryAdded') {
        const e = params['entry'] as { level: string; text: string };
        messages.push(`${e.level}: ${e.text}`);
      }
      if (method === 'Runtime.consoleAPICalled') messages.push(`${String(params['type'])}: ${JSON.stringify(params['args'])}`);
    });
    for (const domain of ['Page', 'Network', 'Runtime', 'Log']) await cdp.send(`${domain}.enable`, {}, sessionId);
    await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1100, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
    await cdp.send('Page.navigate', { url }, sessionId);
    await load;
    return {
      requests,
      messages,
      async evaluate<T>(expression: string): Promise<T> {
        const r = (await cdp.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId)) as {
          result: { value?: T };
          exceptionDetails?: { text: string; exception?: { description?: string } };
        };
        if (r.exceptionDetails) throw new Error(`in page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      async screenshot(file: string): Promise<void> {
        const metrics = (await cdp.send('Page.getLayoutMetrics', {}, sessionId)) as { cssContentSize: { width: number; height: number } };
        const { width, height } = metrics.cssContentSize;
        const clip = { x: 0, y: 0, width: Math.ceil(width), height: Math.ceil(height), scale: 1 };
        const shot = (await cdp.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip }, sessionId)) as { data: string };
        await writeFile(file, Buffer.from(shot.data, 'base64'));
      },
    };
  };

  const close = async (): Promise<void> => {
    await Promise.race([cdp.send('Browser.close').catch(() => undefined), new Promise((r) => setTimeout(r, 3_000))]);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
    rmSync(profile, { recursive: true, force: true });
  };
  return { open, close };
}
