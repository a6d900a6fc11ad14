// A prom-client Counter whose hot-path increments are plain additions, handed to prom-client when it
// collects (each scrape, or the cluster primary's request): one inc per label set per scrape
// instead of a label validation and hash per check.

import { Counter, type CounterConfiguration } from 'prom-client';
import { labelSetKey } from './label-key.js';

export interface CounterSeries {
  inc(): void;
}

export interface DeferredCounter<T extends string> {
  readonly counter: Counter<T>;
  /** The series for one label set (the same object for the same labels); increments are exact at every scrape. */
  series(labels: Partial<Record<T, string>>): CounterSeries;
}

export function deferredCounter<T extends string>(config: Omit<CounterConfiguration<T>, 'collect'>): DeferredCounter<T> {
  const all = new Map<string, { child: Counter.Internal; pending: number; handle: CounterSeries }>();
  const counter = new Counter<T>({
    ...config,
    collect() {
      for (const s of all.values()) {
        if (s.pending === 0) continue;
        s.child.inc(s.pending);
        s.pending = 0;
      }
    },
  });
  return {
    counter,
    series(labels) {
      const key = labelSetKey(labels);
      let s = all.get(key);
      if (!s) {
        const entry = { child: counter.labels(labels as never), pending: 0, handle: undefined as unknown as CounterSeries };
        entry.handle = { inc: () => void entry.pending++ };
        s = entry;
        all.set(key, s);
      }
      return s.handle;
    },
  };
}
