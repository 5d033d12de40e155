/** A monotonic clock in milliseconds; the only way code outside the edge learns the time. */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  now(): number;
}

/** The process's monotonic clock (performance.now). */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock that only moves when told to; for tests and the simulator. */
export class ManualClock implements Clock {
  constructor(private t = 0) {}
  /** Current virtual time. */
  now(): number {
    return this.t;
  }
  /** Moves the clock forward by `ms` (never backwards). */
  advance(ms: number): void {
    if (ms < 0) throw new Error('ManualClock cannot go backwards');
    this.t += ms;
  }
}
