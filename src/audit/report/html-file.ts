// Writes the HTML report for the CLI: verifies the chain, renders, and replaces the file atomically.

import { rename, rm, writeFile } from 'node:fs/promises';
import { loadPublicKey } from '../signing.js';
import { verifyStore } from '../verify.js';
import type { Report } from './build-report.js';
import { renderHtmlReport } from './html-report.js';
import { chainStatus, type ChainStatus } from './html-verify.js';

export interface HtmlFileOptions {
  readonly file: string;
  readonly dir: string;
  readonly report: Report;
  readonly allowEmpty: boolean;
  readonly publicKeyFile?: string;
}

export type HtmlFileResult = { readonly ok: true; readonly status: ChainStatus } | { readonly ok: false; readonly error: string };

/** A broken chain is not an error here: the page shows it in red; `audit verify` is the gate that exits 1. */
export async function writeHtmlReport(o: HtmlFileOptions): Promise<HtmlFileResult> {
  let publicKey;
  if (o.publicKeyFile) {
    const loaded = await loadPublicKey(o.publicKeyFile);
    if (!loaded.ok) return { ok: false, error: `--public-key: ${loaded.error}` };
    publicKey = loaded.key;
  }
  const verification = await verifyStore(o.dir, { ...(publicKey ? { publicKey } : {}), allowEmpty: o.allowEmpty });
  const html = renderHtmlReport({ report: o.report, verification, dir: o.dir });
  // Written beside the target and renamed, so a browser (or a web server) never sees half a page.
  const temp = `${o.file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, html, { mode: 0o644 });
    await rename(temp, o.file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    return { ok: false, error: `--html ${o.file}: cannot write it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
  return { ok: true, status: chainStatus(verification) };
}
