/** The SDK's only access to timers, injectable so tests can drive time with a manual clock. */

/** An opaque timer handle. */
export type TimerHandle = object;

/** Schedules callbacks; `setTimeout` delays are milliseconds on the same time base as the Clock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process's timers. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1))),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
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
