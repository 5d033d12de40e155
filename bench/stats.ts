/**
 * Latency samples and percentiles (pure). Percentiles use the nearest-rank method on the exact
 * samples, so p99 of 100 samples is the 99th smallest, never an interpolation between two.
 */

/** Percentiles of a set of latency samples, in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * The nearest-rank `p`-th percentile (0 < p ≤ 100) of ascending `sorted` samples.
 * Throws a RangeError on an empty array or a `p` outside (0, 100].
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The median of `values` (mean of the middle two for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A growable buffer of latency samples (ms) with a summary. */
export class LatencyRecorder {
  private buf = new Float64Array(1024);
  private n = 0;

  /** Number of samples recorded. */
  get count(): number {
    return this.n;
  }

  /** Records one sample; NaN, infinite and negative samples are refused with a RangeError. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency sample must be a finite non-negative number, got ${ms}`);
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = ms;
  }

  /** Forgets every sample (used at the end of a warm-up). */
  reset(): void {
    this.n = 0;
  }

  /** Percentiles of what was recorded, or null if nothing was. */
  summary(): LatencySummary | null {
    if (this.n === 0) return null;
    const sorted = this.buf.slice(0, this.n).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.n,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted[this.n - 1]!,
      mean: sum / this.n,
    };
  }
}
