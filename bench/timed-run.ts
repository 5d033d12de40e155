/**
 * Runs N worker loops through a warm-up and then a fixed measured window, with a progress line
 * every couple of seconds. Workers record only what completes inside the window
 * (`ctx.measuring`), and every loop is awaited before the run returns.
 */
import { sleep } from './timeout.js';

/** What a worker loop sees. */
export interface LoopContext {
  /** True while the measured window is open. */
  readonly measuring: boolean;
  /** True once the run is over: the loop must return. */
  readonly stopped: boolean;
}

/** Options of `timedRun`. */
export interface TimedRunOptions {
  readonly workers: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Called when the window opens (reset counters here). */
  readonly onWindowStart?: () => void;
  /** A progress line for the current state; printed every `progressEveryMs`. */
  readonly progress: (phase: 'warm-up' | 'measuring', elapsedMs: number) => string;
  readonly progressEveryMs?: number;
  readonly log: (line: string) => void;
}

/** Runs one loop iteration of worker `i`; it is called again until the run stops. */
export type LoopBody = (i: number, ctx: LoopContext) => Promise<void>;

/** Runs the loops; resolves with the measured window's actual length in ms. */
export async function timedRun(opts: TimedRunOptions, body: LoopBody): Promise<number> {
  const state = { measuring: false, stopped: false };
  const ctx: LoopContext = {
    get measuring() {
      return state.measuring;
    },
    get stopped() {
      return state.stopped;
    },
  };
  let failure: unknown;
  const loops = Array.from({ length: opts.workers }, async (_, i) => {
    try {
      while (!state.stopped) await body(i, ctx);
    } catch (err) {
      // A body that throws ends the whole run; the error is rethrown once every loop is done.
      failure ??= err;
      state.stopped = true;
    }
  });
  const every = opts.progressEveryMs ?? 2000;
  const t0 = performance.now();
  let windowStart = 0;
  let windowEnd = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    opts.log(state.measuring ? opts.progress('measuring', now - windowStart) : opts.progress('warm-up', now - t0));
  }, every);
  try {
    await sleepUnless(opts.warmupMs, () => state.stopped);
    opts.onWindowStart?.();
    windowStart = performance.now();
    state.measuring = true;
    await sleepUnless(opts.durationMs, () => state.stopped);
    state.measuring = false;
    windowEnd = performance.now();
  } finally {
    state.measuring = false;
    state.stopped = true;
    clearInterval(ticker);
    await Promise.all(loops);
  }
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(String(failure));
  return windowEnd - windowStart;
}

async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const end = performance.now() + ms;
  while (!stop()) {
    const left = end - performance.now();
    if (left <= 0) return;
    await sleep(Math.min(left, 100));
  }
}
