/**
 * The only access to timers outside the edge, injectable so tests and the simulator drive time
 * with a manual or virtual clock. Delays are milliseconds on the same time base as the Clock.
 */

/** An opaque timer handle. */
export type TimerHandle = object;

/** One-shot timers. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Timers plus `defer`: run a callback on a later turn of the loop (after pending I/O and promises). */
export interface Scheduler extends Timers {
  defer(fn: () => void): void;
}

/** The process's timers. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1))),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** The process's timers, with `defer` as setImmediate. */
export const systemScheduler: Scheduler = {
  ...systemTimers,
  defer: (fn) => {
    setImmediate(fn);
  },
};

/** Resolves after `ms`, or rejects with the signal's reason once `signal` aborts. */
export function sleep(timers: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
