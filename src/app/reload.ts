// Reloading the config of a serving process: re-read and rebuild through the one loader, swap the
// stages in one assignment, and keep the old config serving when the new file is broken.

import type { Logger } from 'pino';
import type { ModelgateMetrics } from '../metrics/metrics.js';
import type { StagesLoad } from './load-stages.js';

export type ReloadResult = { ok: true } | { ok: false; problems: readonly string[] };

export type LoadedStages = Extract<StagesLoad, { ok: true }>;

export interface ReloaderOptions {
  readonly configFile: string;
  /** Reads and builds the file (app/load-stages.ts). */
  readonly load: () => StagesLoad;
  /** Puts a warmed, valid config in service. */
  readonly apply: (next: LoadedStages) => void;
  readonly metrics: Pick<ModelgateMetrics, 'reload'>;
  readonly logger: Logger;
}

/**
 * Reloads run one at a time, in order, so an older file can never be swapped in after a newer one.
 * The returned function never rejects: a broken file resolves with its problems.
 */
export function reloader(options: ReloaderOptions): () => Promise<ReloadResult> {
  const { configFile, metrics, logger } = options;
  const reloadNow = async (): Promise<ReloadResult> => {
    let problems: readonly string[];
    try {
      const next = options.load();
      if (next.ok) {
        await next.warm();
        options.apply(next);
        metrics.reload('success');
        logger.info({ config: next.loaded.file, sha256: next.loaded.sha256 }, 'config reloaded');
        return { ok: true };
      }
      problems = next.error.lines;
    } catch (error) {
      problems = [String(error)];
    }
    metrics.reload('failure');
    for (const problem of problems) logger.error({ config: configFile, problem }, 'config problem');
    logger.error({ config: configFile, problems: problems.length }, 'config reload failed; previous config keeps serving');
    return { ok: false, problems };
  };
  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true });
  return () => (reloading = reloading.then(reloadNow, reloadNow));
}
