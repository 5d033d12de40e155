/** Test doubles for the SDK: timers driven by a ManualClock, and a scriptable in-memory transport. */
import { ManualClock } from '../../src/common/clock.js';
import type { TimerHandle, Timers } from '../../src/client/timers.js';
import type { AttemptOptions, KeepAliveStreamHandle, RpcTransport, ServerStreamHandle, StreamHandlers } from '../../src/client/rpc-transport.js';
import type { StreamMethod, StreamMethods, UnaryMethod, UnaryMethods, WireKeepAliveRequest, WireKeepAliveResponse } from '../../src/client/wire.js';

/** Lets pending promise callbacks run (a few macrotask turns). */
export async function flush(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Timers on a ManualClock: callbacks run only inside `advance`, in time order. */
export class ManualTimers implements Timers {
  private pending = new Map<object, Pending>();
  private seq = 0;
  constructor(readonly clock: ManualClock = new ManualClock(1_000)) {}

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const h = {};
    this.pending.set(h, { at: this.clock.now() + Math.max(0, ms), seq: this.seq++, fn });
    return h;
  }

  clearTimeout(h: TimerHandle): void {
    this.pending.delete(h);
  }

  /** Timers still scheduled. */
  get size(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, running each due timer at its own time and flushing promises after each. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    await flush();
    for (;;) {
      let next: [object, Pending] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq))) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      if (next[1].at > this.clock.now()) this.clock.advance(next[1].at - this.clock.now());
      next[1].fn();
      await flush();
    }
    if (end > this.clock.now()) this.clock.advance(end - this.clock.now());
    await flush();
  }
}

/** A recorded unary call. */
export interface UnaryCall {
  readonly endpoint: string;
  readonly method: UnaryMethod;
  readonly req: unknown;
  readonly timeoutMs: number;
}

/** A unary handler: returns the answer, or throws/rejects with a typed error. */
export type UnaryHandler = (endpoint: string, req: never, opts: AttemptOptions) => unknown;

/** A fake keepalive stream. */
export class FakeKeepAliveStream implements KeepAliveStreamHandle {
  readonly sent: WireKeepAliveRequest[] = [];
  cancelled = false;
  ended = false;
  constructor(
    readonly endpoint: string,
    private readonly handlers: StreamHandlers<WireKeepAliveResponse>,
    private readonly auto: () => boolean,
    private readonly ttl: () => number,
  ) {}

  send(req: WireKeepAliveRequest): void {
    this.sent.push(req);
    if (this.auto()) queueMicrotask(() => this.ack(req.nonce));
  }

  cancel(): void {
    this.cancelled = true;
  }

  /** Answers keepalive `nonce`. */
  ack(nonce: string, expired = false): void {
    if (this.cancelled || this.ended) return;
    const last = this.sent[0];
    this.handlers.onData({ sessionId: last?.sessionId ?? '0', nonce, ttlMs: this.ttl(), expired });
  }

  /** Ends the stream with `err` (null = clean). */
  end(err: Error | null): void {
    if (this.cancelled || this.ended) return;
    this.ended = true;
    this.handlers.onEnd(err);
  }
}

/** A fake server stream. */
export class FakeServerStream<T> implements ServerStreamHandle {
  cancelled = false;
  paused = false;
  ended = false;
  constructor(
    readonly endpoint: string,
    readonly req: unknown,
    private readonly handlers: StreamHandlers<T>,
  ) {}
  cancel(): void {
    this.cancelled = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  push(msg: T): void {
    if (!this.cancelled && !this.ended) this.handlers.onData(msg);
  }
  end(err: Error | null): void {
    if (this.cancelled || this.ended) return;
    this.ended = true;
    this.handlers.onEnd(err);
  }
}

/** An in-memory RpcTransport whose answers are scripted per method. */
export class FakeTransport implements RpcTransport {
  readonly calls: UnaryCall[] = [];
  readonly keepAlives: FakeKeepAliveStream[] = [];
  readonly streams: FakeServerStream<unknown>[] = [];
  readonly handlers = new Map<UnaryMethod, UnaryHandler>();
  autoAck = true;
  ttlMs = 3000;
  closed = false;

  /** Sets the handler of `method`. */
  on<M extends UnaryMethod>(method: M, fn: (endpoint: string, req: UnaryMethods[M]['req'], opts: AttemptOptions) => UnaryMethods[M]['res'] | Promise<UnaryMethods[M]['res']>): this {
    this.handlers.set(method, fn as UnaryHandler);
    return this;
  }

  /** Calls of `method`, in order. */
  callsOf<M extends UnaryMethod>(method: M): Array<{ endpoint: string; req: UnaryMethods[M]['req']; timeoutMs: number }> {
    return this.calls.filter((c) => c.method === method) as Array<{ endpoint: string; req: UnaryMethods[M]['req']; timeoutMs: number }>;
  }

  async unary<M extends UnaryMethod>(endpoint: string, method: M, req: UnaryMethods[M]['req'], opts: AttemptOptions): Promise<UnaryMethods[M]['res']> {
    this.calls.push({ endpoint, method, req, timeoutMs: opts.timeoutMs });
    const h = this.handlers.get(method);
    if (!h) throw new Error(`no fake handler for ${method}`);
    const answer = Promise.resolve().then(() => h(endpoint, req as never, opts) as UnaryMethods[M]['res']);
    if (!opts.signal) return answer;
    const signal = opts.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      answer.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  serverStream<M extends StreamMethod>(endpoint: string, _method: M, req: StreamMethods[M]['req'], handlers: StreamHandlers<StreamMethods[M]['res']>): ServerStreamHandle {
    const s = new FakeServerStream<StreamMethods[M]['res']>(endpoint, req, handlers);
    this.streams.push(s as FakeServerStream<unknown>);
    return s;
  }

  keepAlive(endpoint: string, handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle {
    const s = new FakeKeepAliveStream(endpoint, handlers, () => this.autoAck, () => this.ttlMs);
    this.keepAlives.push(s);
    return s;
  }

  /** The newest keepalive stream. */
  get lastKeepAlive(): FakeKeepAliveStream {
    const s = this.keepAlives.at(-1);
    if (!s) throw new Error('no keepalive stream');
    return s;
  }

  close(): void {
    this.closed = true;
  }
}

/** A resolvable promise. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
