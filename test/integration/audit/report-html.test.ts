// `modelgate audit report DIR --html FILE` as a child process over a real signed trail, the page
// opened in a real headless Chromium: charts drawn, every figure equal to `--json`, the chain's
// status shown, hostile record fields rendered as text, and not one network request.

import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainStore } from '../../../src/audit/chain-store.js';
import type { AuditRecord } from '../../../src/audit/record.js';
import { CHROMIUM_BIN, CHROMIUM_INSTALL_HINT, launchChromium, type Browser, type Page } from '../../helpers/chromium.js';
import { REPO, runCli } from '../../helpers/audit/cli.js';
import { tempStore, type TempStore } from '../../helpers/audit/fixtures.js';
import { byTime, HOUR, makeRecord, modelSweep, normalTraffic, NOW, prober, stolenKeyBurst } from '../../helpers/audit/traffic.js';

/** Every way a subject could break out of text: element, SVG end, attribute quote, event handler. */
const HOSTILE = `</svg></td><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">"'&amp;`;
const HOSTILE_MODEL = '</title></svg><b id="injected">model</b>';
const HOSTILE_REASON = '<i id="injected-reason">reason</i>';
const SCREENSHOT = join(REPO, 'test-artifacts', 'audit-report.png');
const at = ['--now', new Date(NOW).toISOString()];
if (!CHROMIUM_BIN) process.stderr.write(`\nHTML report browser tests skipped: no Chromium found; ${CHROMIUM_INSTALL_HINT}.\n`);

type Json = Record<string, unknown>;
interface Figure {
  source: 'json' | 'verify';
  path: string;
  value: string;
  text: string;
  tag: string;
}

let fx: TempStore;
let browser: Browser;
let page: Page;
let pageUrl: string;
let report: Json;
let verification: Json;

async function fill(dir: string, records: AuditRecord[]): Promise<void> {
  const store = await ChainStore.open({ dir, signingKey: fx.key, batchMaxRecords: 5_000, segmentMaxBytes: 1024 * 1024 });
  await store.append(records);
  await store.close();
}

/** A caller probing with a hostile subject: enough denials for a `denial_share` anomaly that carries it as actor and evidence. */
function hostileProbe(): AuditRecord[] {
  return Array.from({ length: 30 }, (_, i) =>
    makeRecord({ time: new Date(NOW - 4 * HOUR + i * 60_000).toISOString(), subject: HOSTILE, model: HOSTILE_MODEL, decision: 'deny', reason: HOSTILE_REASON }),
  );
}

function lookup(root: Json, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], root);
}

async function renderPage(dir: string, file: string, extra: string[] = []): Promise<void> {
  const r = await runCli(['audit', 'report', dir, '--html', file, ...at, ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^wrote ${file}: \\d+ records, \\d+ anomalies, chain \\w+\\n$`));
}

beforeAll(async () => {
  fx = await tempStore();
  await fill(fx.dir, [...normalTraffic(5), ...stolenKeyBurst(), ...prober(), ...modelSweep(), ...hostileProbe()].sort(byTime));
  const file = join(fx.root, 'report.html');
  await renderPage(fx.dir, file, ['--public-key', fx.publicKeyFile]);
  const json = await runCli(['audit', 'report', fx.dir, '--json', ...at]);
  expect(json.code).toBe(0);
  report = JSON.parse(json.stdout) as Json;
  const verified = await runCli(['audit', 'verify', fx.dir, '--json', '--public-key', fx.publicKeyFile]);
  expect(verified.code).toBe(0);
  verification = JSON.parse(verified.stdout) as Json;
  if (!CHROMIUM_BIN) return;
  browser = await launchChromium();
  pageUrl = pathToFileURL(file).href;
  page = await browser.open(pageUrl);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await fx?.cleanup();
});

// Each CLI run is a fresh tsx process: seconds each on a busy 2-core machine.
const SLOW = { timeout: 120_000 };

describe.skipIf(!CHROMIUM_BIN)('audit report --html in headless Chromium', SLOW, () => {
  it('draws every chart bar with a size proportional to its count in --json', async () => {
    const bars = await page.evaluate<{ path: string; value: number; w: number; h: number }[]>(`
      [...document.querySelectorAll('svg rect[data-json]')].map((r) => {
        const box = r.getBBox();
        return { path: r.dataset.json, value: Number(r.dataset.value), w: box.width, h: box.height };
      })`);
    const timeline = report['timeline'] as { subjects: { counts: number[] }[]; models: { counts: number[] }[] };
    const nonZero = (series: { counts: number[] }[]): number => series.flatMap((s) => s.counts).filter((c) => c > 0).length;
    for (const [prefix, expected] of [
      ['timeline.subjects.', nonZero(timeline.subjects)],
      ['timeline.models.', nonZero(timeline.models)],
      ['denials.', (report['denials'] as unknown[]).length],
    ] as const) {
      const drawn = bars.filter((b) => b.path.startsWith(prefix));
      expect(drawn.length, prefix).toBe(expected);
      expect(expected).toBeGreaterThan(1);
      for (const b of drawn) {
        expect(b.value, b.path).toBe(lookup(report, b.path));
        expect(b.w * b.h, b.path).toBeGreaterThan(0);
      }
      // One scale per chart: pixels per request is the same for every bar (vertical or horizontal).
      const perUnit = drawn.map((b) => (prefix === 'denials.' ? b.w : b.h) / b.value);
      expect(Math.max(...perUnit) - Math.min(...perUnit)).toBeLessThan(0.02 * Math.max(...perUnit));
    }
  });

  it('shows only numbers that equal the --json report and `audit verify --json`', async () => {
    const figures = await page.evaluate<Figure[]>(`
      [...document.querySelectorAll('[data-json]:not(rect), [data-verify]')].map((e) => ({
        source: e.dataset.json !== undefined ? 'json' : 'verify', path: e.dataset.json ?? e.dataset.verify,
        value: e.dataset.value, text: e.textContent, tag: e.tagName }))`);
    for (const f of figures) {
      const expected = lookup(f.source === 'json' ? report : verification, f.path);
      expect(typeof expected, `${f.source} ${f.path}`).toBe('number');
      expect(Number(f.value), f.path).toBe(expected);
      expect(Number(f.text.replaceAll(',', '')), f.path).toBe(expected);
    }
    const sums = await page.evaluate<{ of: string; value: string; text: string }[]>(`
      [...document.querySelectorAll('[data-sum]')].map((e) => ({ of: e.dataset.sum, value: e.dataset.value, text: e.textContent }))`);
    expect(sums.map((s) => s.of)).toEqual(['denials.denied']);
    const denied = (report['denials'] as { denied: number }[]).reduce((a, d) => a + d.denied, 0);
    expect([Number(sums[0]!.value), Number(sums[0]!.text.replaceAll(',', ''))]).toEqual([denied, denied]);
    const paths = new Set(figures.map((f) => `${f.source}:${f.path}`));
    const subjects = report['subjects'] as unknown[];
    const models = report['models'] as unknown[];
    expect(paths).toContain('json:records');
    expect(paths).toContain('json:anomalies.length');
    expect(paths).toContain('verify:entries');
    subjects.forEach((_, i) => expect(paths).toContain(`json:subjects.${i}.requests`));
    models.forEach((_, i) => expect(paths).toContain(`json:models.${i}.mean_duration_ms`));
    (report['anomalies'] as unknown[]).forEach((_, i) => expect([...paths].some((p) => p.startsWith(`json:anomalies.${i}.evidence.`))).toBe(true));
  });

  it('draws from --json data that adds up: timeline and denials agree with the usage tables', () => {
    const t = report['timeline'] as { start: string; bucket_ms: number; buckets: number; subjects: { name: string; total: number; counts: number[] }[]; models: { name: string; total: number }[] };
    const subjects = report['subjects'] as { subject: string; requests: number; denied: number }[];
    expect(t.bucket_ms).toBe(30 * 60_000); // 24h in at most 48 buckets
    expect(t.buckets).toBe(48);
    for (const series of [t.subjects, t.models]) {
      expect(series.reduce((a, s) => a + s.total, 0)).toBe(report['records']);
      expect(series.length).toBeLessThanOrEqual(9);
    }
    for (const s of t.subjects) {
      expect(s.counts.reduce((a, c) => a + c, 0)).toBe(s.total);
      if (s.name !== '(other)') expect(s.total).toBe(subjects.find((u) => u.subject === s.name)!.requests);
    }
    expect(t.models.at(-1)!.name).toBe('(other)'); // 23 models: 8 busiest + the rest
    const denials = report['denials'] as { reason: string; denied: number; subjects: number }[];
    expect(denials.reduce((a, d) => a + d.denied, 0)).toBe(subjects.reduce((a, u) => a + u.denied, 0));
    expect(denials.find((d) => d.reason === HOSTILE_REASON)).toEqual({ reason: HOSTILE_REASON, denied: 30, subjects: 1 });
  });

  it('shows the chain as intact, with signatures checked', async () => {
    const verdict = await page.evaluate<{ status: string; text: string; section: string }>(`({
      status: document.querySelector('#verification .verdict').dataset.status,
      text: document.querySelector('#verification .verdict').textContent,
      section: document.querySelector('#verification').textContent })`);
    expect(verdict).toMatchObject({ status: 'intact', text: 'Chain intact' });
    expect(verdict.section).toContain('checkpoint signatures verified');
    expect(verification['ok']).toBe(true);
  });

  it('renders hostile subjects, models and reasons as text, runs no script and loads nothing', async () => {
    const seen = await page.evaluate<Json>(`({
      csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]').content,
      pwned: window.__pwned ?? null,
      active: document.querySelectorAll('script, img, iframe, object, embed, link, #injected, #injected-reason').length,
      subjectCells: [...document.querySelectorAll('#subjects td.name')].map((e) => e.textContent),
      modelCells: [...document.querySelectorAll('#models td.name')].map((e) => e.textContent),
      reasonLabels: [...document.querySelectorAll('#denials svg text.label')].map((e) => e.textContent),
      titles: [...document.querySelectorAll('svg title')].map((e) => e.textContent),
      actors: [...document.querySelectorAll('.anomaly .actor')].map((e) => e.textContent),
      svgs: document.querySelectorAll('svg').length,
      styled: getComputedStyle(document.querySelector('section')).backgroundColor })`);
    expect(seen['csp']).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*';/);
    expect(seen['csp']).not.toContain('unsafe');
    expect(seen['pwned']).toBeNull();
    expect(seen['active']).toBe(0);
    expect(seen['subjectCells']).toContain(HOSTILE);
    expect(seen['modelCells']).toContain(HOSTILE_MODEL);
    expect(seen['reasonLabels']).toContain(HOSTILE_REASON);
    expect((seen['titles'] as string[]).some((t) => t.startsWith(`${HOSTILE} · `))).toBe(true);
    expect(seen['actors']).toContain(HOSTILE);
    expect(seen['svgs']).toBe(3); // a hostile `</svg>` closed none of them early
    expect(seen['styled']).toBe('rgb(255, 255, 255)'); // the stylesheet passed the CSP by its hash
    expect(page.requests).toEqual([pageUrl]);
    expect(page.messages.filter((m) => /Content Security Policy|error/i.test(m))).toEqual([]);
  });

  it('keeps a full-page screenshot as a test artifact', async () => {
    await mkdir(join(REPO, 'test-artifacts'), { recursive: true });
    await page.screenshot(SCREENSHOT);
    const png = await readFile(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(20)).toBeGreaterThan(1500); // height: the whole page, not the viewport
    expect((await stat(SCREENSHOT)).size).toBeGreaterThan(20_000);
    process.stdout.write(`audit report screenshot: ${SCREENSHOT}\n`);
  });

  it('shows a tampered chain as BROKEN, naming the altered line', async () => {
    const dir = join(fx.root, 'tampered');
    await fill(dir, normalTraffic(3).slice(0, 200));
    const [segment] = (await readdir(dir)).filter((f) => f.endsWith('.jsonl'));
    const path = join(dir, segment!);
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[41] = lines[41]!.replace('"bytes_sent":4000', '"bytes_sent":40');
    await writeFile(path, lines.join('\n'));
    const file = join(fx.root, 'tampered.html');
    await renderPage(dir, file);
    const broken = await browser.open(pathToFileURL(file).href);
    const shown = await broken.evaluate<{ status: string; issues: string[] }>(`({
      status: document.querySelector('#verification .verdict').dataset.status,
      issues: [...document.querySelectorAll('#verification .issues li')].map((e) => e.textContent) })`);
    expect(shown.status).toBe('broken');
    expect(shown.issues[0]).toContain(`${segment} line 42: altered`);
  });
});

describe('audit report --html without a browser', SLOW, () => {
  it('writes the same bytes for the same trail and time (no clock, no randomness in the page)', async () => {
    const [a, b] = [join(fx.root, 'again-a.html'), join(fx.root, 'again-b.html')];
    await renderPage(fx.dir, a);
    await renderPage(fx.dir, b);
    const page = await readFile(a, 'utf8');
    expect(page).toBe(await readFile(b, 'utf8'));
    expect(page).not.toMatch(/<script|https?:\/\//i);
  });

  it('with --allow-empty writes a page for a trail not started yet, saying so', async () => {
    const file = join(fx.root, 'empty.html');
    await renderPage(join(fx.root, 'not-yet'), file, ['--allow-empty']);
    const page = await readFile(file, 'utf8');
    expect(page).toContain('data-status="empty"');
    expect(page).toContain('No requests in the window.');
  });

  it('refuses --public-key without --html, and a page it cannot write', async () => {
    const stray = await runCli(['audit', 'report', fx.dir, '--public-key', fx.publicKeyFile, ...at]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--public-key checks the chain for the --html page');
    const unwritable = await runCli(['audit', 'report', fx.dir, '--html', join(fx.root, 'no-such-dir', 'r.html'), ...at]);
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toContain('cannot write it (ENOENT)');
  });
});
