/**
 * An async iterator over a server stream that survives node failures: on a `retry`-class error
 * (or an unexpected clean end) it reconnects through a RetryPlan, building a fresh request that
 * resumes where the consumer is; a `final` error ends the iteration with that error. Flow control
 * pauses the gRPC stream while `highWater` items wait to be consumed.
 */
import { retryClassOf, leaderHintOf } from './error-mapping.js';
import type { RetryPlan } from './retry-plan.js';
import type { RpcTransport, ServerStreamHandle } from './rpc-transport.js';
import type { TimerHandle, Timers } from './timers.js';
import type { StreamMethod, StreamMethods } from './wire.js';

/** How to run one resumable stream. */
export interface ResumableStreamSpec<M extends StreamMethod, T> {
  readonly method: M;
  /** The request for the next (re)connection. */
  request(): StreamMethods[M]['req'];
  /** Converts one message to the items to yield (may drop duplicates); a throw ends the iteration. */
  accept(msg: StreamMethods[M]['res']): readonly T[];
  /** Ends the iteration when it aborts: the pending or next `next()` rejects with its reason. */
  readonly signal?: AbortSignal;
  /** Items buffered before the stream is paused; default 256. */
  readonly highWater?: number;
}

/** What a resumable stream needs. */
export interface ResumableStreamDeps {
  readonly transport: RpcTransport;
  readonly timers: Timers;
  plan(): RetryPlan;
}

/** An async iterator that can also be stopped from outside (e.g. when the client closes). */
export interface StoppableIterator<T> extends AsyncIterableIterator<T> {
  /** Ends the iteration: pending and later `next()` calls resolve done. */
  stop(): void;
}

/** Starts a resumable stream; see the file comment. */
export function resumableStream<M extends StreamMethod, T>(deps: ResumableStreamDeps, spec: ResumableStreamSpec<M, T>): StoppableIterator<T> {
  const highWater = spec.highWater ?? 256;
  const plan = deps.plan();
  const queue: T[] = [];
  let waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  let handle: ServerStreamHandle | undefined;
  let timer: TimerHandle | undefined;
  let paused = false;

  const cleanup = (): void => {
    handle?.cancel();
    handle = undefined;
    if (timer !== undefined) deps.timers.clearTimeout(timer);
    timer = undefined;
    spec.signal?.removeEventListener('abort', onAbort);
  };

  const finish = (error?: { error: unknown }): void => {
    if (finished) return;
    finished = true;
    failure = error;
    cleanup();
    const w = waiter;
    waiter = undefined;
    if (w) {
      if (error && queue.length === 0) {
        failure = undefined;
        w.reject(error.error);
      }
      else if (queue.length > 0) w.resolve({ value: queue.shift() as T, done: false });
      else w.resolve({ value: undefined, done: true });
    }
  };

  const onAbort = (): void => finish({ error: spec.signal?.reason });

  const push = (items: readonly T[]): void => {
    for (const item of items) {
      const w = waiter;
      if (w) {
        waiter = undefined;
        w.resolve({ value: item, done: false });
      } else {
        queue.push(item);
      }
    }
    if (queue.length >= highWater && handle && !paused) {
      paused = true;
      handle.pause();
    }
  };

  const connect = (): void => {
    if (finished) return;
    const { endpoint, delayMs } = plan.next();
    const open = (): void => {
      timer = undefined;
      if (finished) return;
      let current: ServerStreamHandle | undefined;
      current = deps.transport.serverStream(endpoint, spec.method, spec.request(), {
        onData: (msg) => {
          if (finished || handle !== current) return;
          plan.succeeded(endpoint, false);
          let items: readonly T[];
          try {
            items = spec.accept(msg);
          } catch (err) {
            finish({ error: err });
            return;
          }
          push(items);
        },
        onEnd: (err) => {
          if (finished || handle !== current) return;
          handle = undefined;
          paused = false;
          if (err && retryClassOf(err) === 'final') {
            finish({ error: err });
            return;
          }
          plan.failed(endpoint, err ? leaderHintOf(err) : undefined);
          connect();
        },
      });
      handle = current;
    };
    if (delayMs > 0) timer = deps.timers.setTimeout(open, delayMs);
    else open();
  };

  if (spec.signal?.aborted) finish({ error: spec.signal.reason });
  else {
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    connect();
  }

  const iterator: StoppableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (queue.length > 0) {
        const value = queue.shift() as T;
        if (paused && handle && queue.length < highWater / 2) {
          paused = false;
          handle.resume();
        }
        return Promise.resolve({ value, done: false });
      }
      if (finished) {
        if (failure) {
          const e = failure.error;
          failure = undefined;
          return Promise.reject(e);
        }
        return Promise.resolve({ value: undefined, done: true });
      }
      if (waiter) return Promise.reject(new Error('next() called again before the previous call settled'));
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    return(): Promise<IteratorResult<T>> {
      finish();
      queue.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    stop(): void {
      finish();
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
