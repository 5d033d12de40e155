/**
 * Timeouts for driver calls. A call that times out may still complete later (the RPC was already
 * sent); `onLate` receives such a late result so a lock granted after the caller gave up is
 * released instead of leaking.
 */

/** A driver call did not complete in time. */
export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `p`, or a BenchTimeoutError after `ms` (no timeout when `ms` is undefined). */
export function withTimeout<T>(p: Promise<T>, ms: number | undefined, what: string, onLate?: (late: T) => void): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new BenchTimeoutError(`${what} did not complete within ${ms} ms`));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        if (timedOut) onLate?.(v);
        else resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Runs `fn` over `items` with at most `limit` calls in flight; stops early when `signal` aborts. */
export async function forEachLimited<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const it = items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (;;) {
      if (signal?.aborted) return;
      const next = it.next();
      if (next.done) return;
      await fn(next.value);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}
