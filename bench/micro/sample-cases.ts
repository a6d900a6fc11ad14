// The micro benches' one sampler: every case timed in each round (interleaved, so machine noise
// moves all of them alike), the first round only warming the JIT.

export type BenchCase = () => void | Promise<void>;

export interface SampleOptions {
  readonly rounds: number;
  readonly msPerCase: number;
  /** Calls between clock reads: big enough that reading the clock costs nothing measurable. */
  readonly batch: number;
}

/** Nanoseconds per call of each case, one sample per counted round (rounds − 1 of them). */
export async function sampleCases(cases: Readonly<Record<string, BenchCase>>, o: SampleOptions): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (const [name, fn] of Object.entries(cases)) {
      const deadline = performance.now() + o.msPerCase;
      let n = 0;
      const start = performance.now();
      while (performance.now() < deadline) {
        for (let i = 0; i < o.batch; i++) {
          const r = fn();
          if (r) await r;
        }
        n += o.batch;
      }
      if (round > 0) samples.get(name)!.push(((performance.now() - start) * 1e6) / n);
    }
  }
  return samples;
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
