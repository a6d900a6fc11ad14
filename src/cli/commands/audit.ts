// `modelgate audit …`: keygen, ingest (file), serve (gRPC access logs), verify (chain), report (anomalies).

import type { Command } from 'commander';

interface CommonOptions {
  config?: string;
  dir?: string;
  key?: string;
}

const fail = (message: string, code = 2): void => {
  process.stderr.write(`modelgate audit: ${message}\n`);
  process.exitCode = code;
};

async function loadConfig(options: CommonOptions) {
  const { defaultAuditConfig } = await import('../../audit/config.js');
  const { loadAuditSection } = await import('../../config/audit-section.js');
  const section = options.config ? loadAuditSection(options.config) : { ok: true as const, config: defaultAuditConfig() };
  if (!section.ok) return { ok: false as const, error: `invalid configuration\n${section.problems.join('\n')}` };
  const c = section.config;
  return {
    ok: true as const,
    config: {
      ...c,
      store: { ...c.store, ...(options.dir ? { dir: options.dir } : {}), ...(options.key ? { signing_key_file: options.key } : {}) },
    },
  };
}

async function makeLog() {
  const { pino } = await import('pino');
  return pino({ name: 'modelgate-audit' }, pino.destination(2));
}

/** Resolves when SIGINT/SIGTERM arrives. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string) => resolve(signal);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

export function register(program: Command): void {
  const audit = program.command('audit').description('tamper-evident audit trail from Envoy access logs');

  audit
    .command('keygen')
    .description('write a new Ed25519 key pair for checkpoint signatures (private key mode 0600)')
    .option('--private-key <file>', 'private key (PKCS#8 PEM)', '.modelgate/audit-signing.key')
    .option('--public-key <file>', 'public key (SPKI PEM), for `audit verify`', '.modelgate/audit-signing.pub')
    .action(async (o: { privateKey: string; publicKey: string }) => {
      const { mkdir } = await import('node:fs/promises');
      const { dirname } = await import('node:path');
      const { writeKeyPair } = await import('../../audit/signing.js');
      try {
        await mkdir(dirname(o.privateKey), { recursive: true });
        await mkdir(dirname(o.publicKey), { recursive: true });
        const { keyId } = await writeKeyPair(o.privateKey, o.publicKey);
        process.stdout.write(`wrote ${o.privateKey} (0600) and ${o.publicKey}; key id ${keyId}\n`);
      } catch (error) {
        fail((error as NodeJS.ErrnoException).code === 'EEXIST' ? `${(error as Error).message}: refusing to overwrite a key` : (error as Error).message);
      }
    });

  audit
    .command('ingest')
    .description("follow Envoy's JSON access-log file into the audit store")
    .option('--config <file>', 'modelgate YAML config (its audit: section)')
    .option('--file <path>', 'access-log file to follow (overrides audit.file.path)')
    .option('--dir <dir>', 'store directory (overrides audit.store.dir)')
    .option('--key <file>', 'Ed25519 signing key (overrides audit.store.signing_key_file)')
    .option('--state <file>', 'position file (default: in the store directory)')
    .option('--once', 'ingest what is there now, seal the segment, and exit')
    .action(async (o: CommonOptions & { file?: string; state?: string; once?: boolean }) => {
      const loaded = await loadConfig(o);
      if (!loaded.ok) return fail(loaded.error);
      const config = loaded.config;
      const path = o.file ?? config.file.path;
      if (!path) return fail('no access-log file: pass --file or set audit.file.path');
      const { createHash } = await import('node:crypto');
      const { join, resolve } = await import('node:path');
      const { openAuditRuntime } = await import('../../audit/runtime.js');
      const { FileIngester } = await import('../../audit/file-ingester.js');
      const { lastFileCursor } = await import('../../audit/store-scan.js');
      const log = await makeLog();
      const opened = await openAuditRuntime(config, log);
      if (!opened.ok) return fail(opened.error);
      const { runtime } = opened;
      const absolute = resolve(path);
      const statePath = o.state ?? config.file.state_file ?? join(config.store.dir, `.ingest-${createHash('sha256').update(absolute).digest('hex').slice(0, 12)}.state`);
      const storeCursor = await lastFileCursor(config.store.dir, { kind: 'envoy_file', id: absolute });
      const ingester = new FileIngester({
        path: absolute,
        statePath,
        sink: runtime.store,
        privacy: runtime.privacy,
        ...(storeCursor ? { storeCursor } : {}),
        pollIntervalMs: config.file.poll_interval,
        onEvent: (event) => (event.kind === 'bad_line' || event.kind === 'gap' ? log.warn(event, 'audit ingest') : log.info(event, 'audit ingest')),
      });
      try {
        await ingester.start();
        if (o.once) {
          const stored = await ingester.pollOnce();
          process.stdout.write(`ingested ${stored} records\n`);
        } else {
          void ingester.run().catch((error: Error) => {
            log.error({ err: error.message }, 'audit ingest failed');
            process.kill(process.pid, 'SIGTERM');
          });
          log.info({ path: absolute, dir: config.store.dir }, 'audit ingest following');
          await untilSignal();
        }
      } finally {
        await ingester.stop();
        await runtime.close();
      }
    });

  audit
    .command('serve')
    .description("receive Envoy's gRPC access logs (AccessLogService) into the audit store")
    .option('--config <file>', 'modelgate YAML config (its audit: section)')
    .option('--listen <host:port>', 'listen address (overrides audit.receiver.listen)')
    .option('--dir <dir>', 'store directory (overrides audit.store.dir)')
    .option('--key <file>', 'Ed25519 signing key (overrides audit.store.signing_key_file)')
    .action(async (o: CommonOptions & { listen?: string }) => {
      const loaded = await loadConfig(o);
      if (!loaded.ok) return fail(loaded.error);
      const config = loaded.config;
      const { openAuditRuntime } = await import('../../audit/runtime.js');
      const { startAuditReceiver } = await import('../../audit/receiver-server.js');
      const { exposureProblem } = await import('../../audit/receiver-access.js');
      const { receiverMonitor } = await import('../../audit/receiver-monitor.js');
      // Judged before the store is opened: an exposed plaintext receiver is a config error, not a start.
      const exposed = o.listen ? exposureProblem(o.listen, config.receiver.tls) : undefined;
      if (exposed) return fail(`--listen: ${exposed}`);
      const log = await makeLog();
      const opened = await openAuditRuntime(config, log);
      if (!opened.ok) return fail(opened.error);
      const { runtime } = opened;
      const started = await startAuditReceiver(config.receiver, {
        ...(o.listen ? { listen: o.listen } : {}),
        sink: runtime.store,
        privacy: runtime.privacy,
        onEvent: receiverMonitor({ log }).onEvent,
      }).catch((error: unknown) => ({ ok: false as const, error: `cannot listen on ${o.listen ?? config.receiver.listen}: ${error instanceof Error ? error.message : String(error)}` }));
      if (!started.ok) {
        await runtime.close();
        return fail(started.error);
      }
      const server = started.server;
      process.stdout.write(`listening on port ${server.port}\n`);
      await untilSignal();
      await server.close();
      await runtime.close();
    });

  audit
    .command('verify')
    .description('check every hash chain and signed checkpoint; exit 1 on any break')
    .argument('<dir>', 'store directory')
    .option('--public-key <file>', 'Ed25519 public key to check checkpoint signatures')
    .option('--allow-empty', 'a missing directory or one without records is OK (a trail not started yet)')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, o: { publicKey?: string; allowEmpty?: boolean; json?: boolean }) => {
      const { loadPublicKey } = await import('../../audit/signing.js');
      const { verifyStore } = await import('../../audit/verify.js');
      let publicKey;
      if (o.publicKey) {
        const loaded = await loadPublicKey(o.publicKey);
        if (!loaded.ok) return fail(loaded.error);
        publicKey = loaded.key;
      }
      const report = await verifyStore(dir, { ...(publicKey ? { publicKey } : {}), allowEmpty: o.allowEmpty === true });
      const [first, ...rest] = report.issues;
      if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else if (first?.kind === 'no_trail') process.stdout.write(`FAILED: ${first.message} (--allow-empty accepts a missing or empty directory)\n`);
      else if (report.ok) {
        const sigs = report.signaturesChecked ? 'signatures verified' : 'signatures NOT checked (no --public-key)';
        process.stdout.write(`OK: ${report.segments} segments, ${report.entries} chained entries, ${report.checkpoints} checkpoints; ${sigs}\n`);
      } else {
        process.stdout.write(`BROKEN: ${first!.segment} line ${first!.line}: [${first!.kind}] ${first!.message}\n`);
        for (const i of rest.slice(0, 50)) process.stdout.write(`  also ${i.segment} line ${i.line}: [${i.kind}] ${i.message}\n`);
        if (rest.length > 50) process.stdout.write(`  … ${rest.length - 50} more\n`);
      }
      if (!report.ok) process.exitCode = 1;
    });

  audit
    .command('report')
    .description('anomalies (bursts, probing, model sweeps, odd hours, new peers) and usage tables')
    .argument('<dir>', 'store directory')
    .option('--since <duration>', 'window to judge, e.g. 24h', '24h')
    .option('--baseline <duration>', 'history before the window to learn from (default audit.report.baseline, 7d)')
    .option('--decision-log <file>', "modelgate's decision log (pino JSON lines) to correlate by request id")
    .option('--config <file>', 'modelgate YAML config (thresholds in audit.report)')
    .option('--now <time>', 'judge as if it were this RFC 3339 time (replaying an incident)')
    .option('--allow-empty', 'report 0 records for a missing or empty directory instead of failing')
    .option('--json', 'machine-readable output')
    .option('--html <file>', 'write a self-contained HTML page (charts, anomalies, chain verification) instead of the text report')
    .option('--public-key <file>', 'with --html: check checkpoint signatures for the chain status')
    .action(async (dir: string, o: { since: string; baseline?: string; decisionLog?: string; config?: string; now?: string; allowEmpty?: boolean; json?: boolean; html?: string; publicKey?: string }) => {
      const { parseDuration } = await import('../../audit/duration.js');
      if (o.publicKey && !o.html) return fail('--public-key checks the chain for the --html page: pass --html FILE (or use `audit verify`)');
      const loaded = await loadConfig(o);
      if (!loaded.ok) return fail(loaded.error);
      const since = parseDuration(o.since);
      if (!since.ok) return fail(`--since: ${since.error}`);
      const baseline = o.baseline ? parseDuration(o.baseline) : { ok: true as const, ms: loaded.config.report.baseline };
      if (!baseline.ok) return fail(`--baseline: ${baseline.error}`);
      const now = o.now ? Date.parse(o.now) : Date.now();
      if (Number.isNaN(now)) return fail(`--now: not a time: '${o.now}'`);
      // A mistyped path must not read as a quiet trail: "0 records, nothing unusual".
      const { openStoreDir } = await import('../../audit/segment-files.js');
      const found = await openStoreDir(dir);
      if (!found.ok && (found.problem === 'not_a_directory' || !o.allowEmpty)) {
        return fail(`${found.message}: nothing to report (--allow-empty accepts a missing or empty directory)`, 1);
      }
      const { reportFromStore } = await import('../../audit/report/build-report.js');
      const { formatReport } = await import('../../audit/report/format.js');
      const report = await reportFromStore(dir, { now, sinceMs: since.ms, baselineMs: baseline.ms }, loaded.config.report, o.decisionLog);
      if (o.html) {
        const { writeHtmlReport } = await import('../../audit/report/html-file.js');
        const written = await writeHtmlReport({ file: o.html, dir, report, allowEmpty: o.allowEmpty === true, ...(o.publicKey ? { publicKeyFile: o.publicKey } : {}) });
        if (!written.ok) return fail(written.error);
        // The page is the report; --json still prints the data it was drawn from.
        if (!o.json) return void process.stdout.write(`wrote ${o.html}: ${report.records} records, ${report.anomalies.length} anomalies, chain ${written.status}\n`);
      }
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    });
}
