/**
 * Latency histogram for the benchmarks: log buckets of ~1% (1 µs .. ~1000 s), constant memory, so
 * a generator can record millions of calls and ship its counts to the orchestrator (`counts()` /
 * `merge()`), where quantiles of all generators together are read.
 */
export class Histogram {
  private static readonly GROWTH = Math.log(1.01);
  private readonly buckets = new Float64Array(2_100);
  count = 0;
  /** Records a duration in ms. */
  add(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const i = Math.min(this.buckets.length - 1, Math.floor(Math.log(us) / Histogram.GROWTH));
    this.buckets[i]!++;
    this.count++;
  }
  /** The q-quantile in ms (upper bound of its bucket); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= target) return Math.exp((i + 1) * Histogram.GROWTH) / 1000;
    }
    return NaN;
  }
  /** Sparse bucket counts ([index, count] pairs), small enough to send over IPC. */
  counts(): [number, number][] {
    const out: [number, number][] = [];
    this.buckets.forEach((c, i) => c > 0 && out.push([i, c]));
    return out;
  }
  /** Adds counts from `counts()` of another histogram. */
  merge(counts: [number, number][]): void {
    for (const [i, c] of counts) {
      this.buckets[i]! += c;
      this.count += c;
    }
  }
  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
  }
}
