// Watches the config and the files it references, for reload: by watching their directories, since
// editors and Kubernetes ConfigMaps replace files by rename, which a watch on the file itself would
// miss after the first swap.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { LoadedConfig } from './load.js';

/**
 * Absolute paths whose change should trigger a reload: the config itself and the identity files
 * it reads at build time. TLS material is bound to the listening socket and needs a restart.
 */
export function referencedFiles(configFile: string, loaded: LoadedConfig | undefined): string[] {
  const files = new Set([resolve(configFile)]);
  if (loaded) {
    const at = (f: string | undefined) => f && files.add(resolve(loaded.baseDir, f));
    const id = loaded.config.identity;
    for (const issuer of id.jwt?.issuers ?? []) at(issuer.jwks_file);
    at(id.api_keys?.keys_file);
    at(id.api_keys?.secret_file);
  }
  return [...files];
}

export interface FileWatcherOptions {
  /** Absolute paths to watch; asked again on `refresh()`. */
  readonly files: () => readonly string[];
  /** Called once per burst of changes, `debounceMs` after the last one. */
  readonly onChange: (changed: readonly string[]) => void;
  readonly debounceMs?: number;
  readonly onError?: (dir: string, error: Error) => void;
}

export interface FileWatcher {
  /** Re-read `files()` and watch any new directories (after a reload changed the file list). */
  refresh(): void;
  close(): void;
}

/** Kubernetes' atomic writer swaps a `..data` symlink; the watched names change only through it. */
const ATOMIC_SWAP = /^\.\.data/;

export function watchFiles(options: FileWatcherOptions): FileWatcher {
  const debounceMs = options.debounceMs ?? 200;
  const watchers = new Map<string, FSWatcher>();
  let names = new Map<string, Set<string>>();
  let timer: NodeJS.Timeout | undefined;
  const pending = new Set<string>();

  const schedule = (path: string) => {
    pending.add(path);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const changed = [...pending];
      pending.clear();
      options.onChange(changed);
    }, debounceMs);
    timer.unref();
  };

  const refresh = () => {
    names = new Map();
    for (const file of options.files()) {
      const dir = dirname(file);
      if (!names.has(dir)) names.set(dir, new Set());
      names.get(dir)!.add(basename(file));
    }
    for (const [dir, watcher] of watchers) {
      if (!names.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const dir of names.keys()) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, (_event, filename) => {
          const name = filename?.toString();
          if (name === undefined || names.get(dir)?.has(name) || ATOMIC_SWAP.test(name)) schedule(name ? `${dir}/${name}` : dir);
        });
        watcher.on('error', (error) => options.onError?.(dir, error));
        watchers.set(dir, watcher);
      } catch (error) {
        // A missing directory (say, secrets not mounted yet) is not fatal: SIGHUP still reloads.
        options.onError?.(dir, error as Error);
      }
    }
  };

  refresh();
  return {
    refresh,
    close() {
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
