// `npm start`: `modelgate serve` (arguments passed through: `npm start -- --workers 2`) with its JSON
// log lines made readable by pino-pretty, as one process npm can signal.
//
// Why not `serve | pino-pretty` in package.json: npm runs a script under `sh -c`, and a pipeline
// keeps that shell between npm and modelgate. npm forwards SIGTERM/SIGINT to the shell only; the
// shell dies without passing them on, and every modelgate process (the cluster primary and its
// workers) went on serving 9191-9193 as orphans. The script is `exec`ed, so npm signals this
// launcher directly, and the launcher forwards to serve and exits with it.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

const require = createRequire(import.meta.url);
const PRETTY_ARGS = ['--singleLine', '--translateTime', 'SYS:HH:MM:ss.l', '--ignore', 'pid,hostname,service'];

const serve = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve', ...process.argv.slice(2)], {
  stdio: ['inherit', 'pipe', 'inherit'],
});
// pino-pretty gets its own process group: a terminal's Ctrl-C reaches the whole foreground group,
// and pino-pretty must outlive modelgate long enough to print its last lines ("shutting down").
// It ends on its own when modelgate's output closes.
const pretty = spawn(process.execPath, [require.resolve('pino-pretty/bin.js'), ...PRETTY_ARGS], {
  stdio: ['pipe', 'inherit', 'inherit'],
  detached: true,
});
serve.stdout.pipe(pretty.stdin);

const forward = (signal: NodeJS.Signals) => {
  if (serve.exitCode === null && serve.signalCode === null) serve.kill(signal);
};
process.on('SIGTERM', forward);
process.on('SIGINT', forward);

serve.on('exit', (code, signal) => {
  const status = code ?? 128 + (signal ? constants.signals[signal] : 1);
  // Wait for pino-pretty to print what is left, but never hang on it.
  const timer = setTimeout(() => process.exit(status), 2_000);
  pretty.on('exit', () => {
    clearTimeout(timer);
    process.exit(status);
  });
  if (pretty.exitCode !== null || pretty.signalCode !== null) process.exit(status);
});
