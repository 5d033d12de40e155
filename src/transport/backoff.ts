import type { Rng } from '../common/rng.js';

/** Settings of an exponential backoff. */
export interface BackoffOptions {
  /** First delay before jitter, in ms. */
  readonly initialMs: number;
  /** Cap of the delay before jitter, in ms. */
  readonly maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": the n-th delay is uniform in [d/2, d) where
 * d = min(maxMs, initialMs × 2^n). Jitter keeps peers that lost the same node from reconnecting
 * in lockstep; the lower half bound keeps a delay from collapsing to zero.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly rng: Rng,
  ) {
    if (!(opts.initialMs > 0) || !(opts.maxMs >= opts.initialMs)) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs (got ${opts.initialMs}, ${opts.maxMs})`);
    }
  }

  /** The delay to wait before the next attempt; each call doubles the base up to the cap. */
  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return base / 2 + this.rng.next() * (base / 2);
  }

  /** Number of delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Starts over from `initialMs` (call once an attempt succeeded). */
  reset(): void {
    this.attempt = 0;
  }
}
