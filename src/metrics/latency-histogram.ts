// A Prometheus histogram for the check latency that costs a few array writes per observation, and
// reads to prom-client's registry (exposition, cluster aggregation) like one of its own histograms.
//
// Why not prom-client's Histogram: its observe() validates and hashes the label object and builds a
// closure on every call, a measurable share of a check on the hot path (docs/performance.md). Here
// each label set is bound once, and observing is a bucket search plus three additions.

import type { Registry } from 'prom-client';
import { labelSetKey } from './label-key.js';

export interface LatencySeries {
  observe(seconds: number): void;
}

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registers: readonly Registry[],
  ) {
    for (const registry of registers) registry.registerMetric(this as never);
  }

  /** The series for one label set, created at zero; hold on to it and observe through it. */
  series(labels: Readonly<Record<string, string>>): LatencySeries {
    const key = labelSetKey(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels: { ...labels }, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    const s = series;
    const bounds = this.buckets;
    return {
      observe(seconds: number) {
        if (!Number.isFinite(seconds)) return;
        let i = 0;
        while (i < bounds.length && seconds > bounds[i]!) i++;
        s.counts[i]!++;
        s.sum += seconds;
        s.count++;
      },
    };
  }

  /** prom-client's MetricObject shape: cumulative `_bucket` lines with `le`, then `_sum` and `_count`. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.buckets.length ? this.buckets[i]! : '+Inf';
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
