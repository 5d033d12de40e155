/**
 * The harness's time base: CLOCK_MONOTONIC (`process.hrtime`), which every process on the machine
 * shares, measured in milliseconds from a run's origin. Workers stamp their own observations on it,
 * so a worker's timestamp and the parent's history times are directly comparable.
 */
import type { Clock } from '../../../src/common/clock.js';

/** The current CLOCK_MONOTONIC reading in nanoseconds. */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

/** Milliseconds since `originNs` on CLOCK_MONOTONIC (fractional, never decreasing). */
export class MonoClock implements Clock {
  constructor(readonly originNs: bigint = monotonicNs()) {}
  /** Milliseconds since the origin. */
  now(): number {
    return Number(monotonicNs() - this.originNs) / 1e6;
  }
}
