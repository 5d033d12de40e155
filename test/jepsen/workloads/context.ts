/**
 * What a workload runs with inside a worker process: the SDK client, a session that is renewed
 * when it is lost, the recorder, randomness, the shared clock and the stop signal.
 */
import type { LatchClient, Lock, Session } from '../../../src/client/index.js';
import type { Rng } from '../../../src/common/rng.js';
import type { MonoClock } from '../harness/mono-clock.js';
import type { WorkerConfig } from '../harness/worker-protocol.js';
import { describeError } from './classify.js';
import type { WorkerRuntime } from './worker-runtime.js';

/** Everything a workload needs. */
export interface WorkloadContext {
  readonly config: WorkerConfig;
  readonly client: LatchClient;
  readonly rt: WorkerRuntime;
  readonly rng: Rng;
  /** The run's shared CLOCK_MONOTONIC time base (the history's). */
  readonly clock: MonoClock;
  readonly sessions: SessionKeeper;
}

/** A workload's loop; returns when `ctx.rt.stop` fires. */
export type Workload = (ctx: WorkloadContext) => Promise<void>;

/** Sleeps `ms`, or less when `signal` fires (never rejects). */
export function nap(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A uniformly random element. */
export function pick<T>(xs: readonly T[], rng: Rng): T {
  if (xs.length === 0) throw new RangeError('pick from an empty list');
  return xs[rng.int(xs.length)] as T;
}

/** A fencing token as a history number (tokens are log indexes, far below 2^53). */
export function tokenNumber(lock: Lock): number {
  const n = Number(lock.token);
  if (!Number.isSafeInteger(n)) throw new RangeError(`token ${lock.token} is not a safe integer`);
  return n;
}

/** Resolves when `signal` fires (used to race a hold against the loss of a lock). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((r) => signal.addEventListener('abort', () => r(), { once: true }));
}

/**
 * The worker's current session: reused while it is `safe` or in `jeopardy`, replaced once it has
 * expired or been discarded. Opening retries until the stop signal fires.
 */
export class SessionKeeper {
  private current: Session | undefined;

  constructor(
    private readonly client: LatchClient,
    private readonly ttlMs: number,
    private readonly name: string,
    private readonly stop: AbortSignal,
    private readonly log: (m: string) => void,
    /** The sessions' drift margin (the harness's choice, see options.ts). */
    private readonly driftMarginMs: number = Math.round(ttlMs / 4),
    /** Called with every session opened (the session-lease records start there). */
    private readonly onOpen: (s: Session) => void = () => undefined,
  ) {}

  /** A live session, or undefined once stopped. */
  async get(): Promise<Session | undefined> {
    const s = this.current;
    if (s && (s.state === 'safe' || s.state === 'jeopardy')) return s;
    this.current = undefined;
    let failures = 0;
    while (!this.stop.aborted) {
      try {
        this.current = await this.client.session({
          ttlMs: this.ttlMs,
          name: this.name,
          // By default a wide margin: the lock's signal fires well before the leader may expire the
          // session, so the history records the loss (an `exit` invoke) before the lock can be
          // given away. `--drift-margin sdk` gives what applications get.
          driftMarginMs: this.driftMarginMs,
          graceMs: this.ttlMs,
        });
        this.onOpen(this.current);
        return this.current;
      } catch (err) {
        if (++failures % 10 === 1) this.log(`cannot open a session (${failures}): ${describeError(err)}`);
        await nap(100 + Math.min(1_000, failures * 100), this.stop);
      }
    }
    return undefined;
  }

  /** Forgets the current session and closes it in the background (its locks are released). */
  discard(): void {
    const s = this.current;
    this.current = undefined;
    s?.close().catch(() => undefined);
  }

  /** Closes the current session, waiting at most `ms`. */
  async close(ms: number): Promise<void> {
    const s = this.current;
    this.current = undefined;
    if (!s) return;
    await Promise.race([s.close().catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
  }
}
