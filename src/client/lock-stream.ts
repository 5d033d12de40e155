/**
 * Lock operations multiplexed over one `Locks.Stream` at one endpoint (proto/latch.proto): each
 * Acquire, Release or SetValue is a `call_id`-tagged message on a long-lived bidi stream, so it
 * costs one DATA frame each way instead of a new HTTP/2 stream with headers and trailers.
 *
 * Each call behaves as its unary twin: its deadline and AbortSignal are enforced here (a timer,
 * then a CancelCall to the server) and reject with the same errors; a CallError is mapped by the
 * same code as a unary status and trailers (error-mapping.ts). When the stream fails or ends, every
 * pending call fails as a unary call does on a transport failure (UNAVAILABLE, outcome unknown:
 * the router retries with the same requestSeq, which the server answers exactly once). When the
 * server answers UNIMPLEMENTED (an older server), none of the pending calls ran there: they are
 * sent again as unary calls and the transport stops using streams at that endpoint for a while.
 */
import type { Clock } from '../common/clock.js';
import { GrpcStatus } from '../common/errors.js';
import { errorFromCallError, errorFromStatus, type RpcStatusLike } from './error-mapping.js';
import { LatchClientError } from './errors.js';
import type { AttemptOptions } from './rpc-transport.js';
import type { TimerHandle, Timers } from './timers.js';
import { LOCK_STREAM_OPS, type LockStreamMethod, type UnaryMethods, type WireLockStreamRequest, type WireLockStreamResponse } from './wire.js';

/** Most calls pending on one stream (the server refuses more with RESOURCE_EXHAUSTED); the transport sends the excess unary. */
export const MAX_PENDING_PER_STREAM = 1024;

/** A stream with no pending call for this long is closed (so an idle client holds no open call). */
export const LOCK_STREAM_IDLE_MS = 10_000;

/** The bidi call under a LockStream (grpc-js in production, a fake in tests). */
export interface LockStreamWire {
  /** Sends one request. */
  write(msg: WireLockStreamRequest): void;
  /** Cancels the call; the LockStream ignores whatever it reports afterwards. */
  cancel(): void;
}

/** What a LockStream needs besides its wire. */
export interface LockStreamDeps {
  readonly timers: Timers;
  readonly clock: Clock;
  /** The same call as a unary call (after the server answered the stream with UNIMPLEMENTED). */
  unary<M extends LockStreamMethod>(method: M, req: UnaryMethods[M]['req'], opts: AttemptOptions): Promise<UnaryMethods[M]['res']>;
  /** The stream is over (failed, ended, idle or unimplemented): the next call needs a new one. */
  onClosed(stream: LockStream, unimplemented: boolean): void;
}

interface PendingCall {
  readonly method: LockStreamMethod;
  readonly req: unknown;
  /** Clock time at which the call's deadline passes. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (res: never) => void;
  readonly reject: (err: unknown) => void;
  timer: TimerHandle | undefined;
  onAbort: (() => void) | undefined;
}

function request(callId: string, method: LockStreamMethod, req: unknown): WireLockStreamRequest {
  switch (LOCK_STREAM_OPS[method]) {
    case 'acquire':
      return { callId, acquire: req as UnaryMethods['Locks/Acquire']['req'] };
    case 'release':
      return { callId, release: req as UnaryMethods['Locks/Release']['req'] };
    case 'setValue':
      return { callId, setValue: req as UnaryMethods['Locks/SetValue']['req'] };
  }
}

/** One Locks.Stream at one endpoint; see the file comment. */
export class LockStream {
  private readonly pending = new Map<string, PendingCall>();
  private nextId = 0;
  private closed = false;
  private idleTimer: TimerHandle | undefined;
  /** Clock time since which no call has been pending (meaningful while `pending` is empty). */
  private idleSince: number;

  constructor(
    readonly endpoint: string,
    private readonly wire: LockStreamWire,
    private readonly deps: LockStreamDeps,
  ) {
    this.idleSince = deps.clock.now();
    this.armIdle(LOCK_STREAM_IDLE_MS);
  }

  /** Calls pending on this stream. */
  get size(): number {
    return this.pending.size;
  }

  /** False once the stream failed, ended or was closed: it takes no more calls. */
  get open(): boolean {
    return !this.closed;
  }

  /** Runs one lock operation on the stream; resolves or rejects exactly as its unary call would. */
  call<M extends LockStreamMethod>(method: M, req: UnaryMethods[M]['req'], opts: AttemptOptions): Promise<UnaryMethods[M]['res']> {
    return new Promise<UnaryMethods[M]['res']>((resolve, reject) => {
      const signal = opts.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      if (this.closed) {
        reject(this.failure(null));
        return;
      }
      const callId = String(++this.nextId);
      const timeoutMs = Math.max(1, opts.timeoutMs);
      const p: PendingCall = { method, req, deadline: this.deps.clock.now() + timeoutMs, signal, resolve, reject, timer: undefined, onAbort: undefined };
      this.pending.set(callId, p);
      p.timer = this.deps.timers.setTimeout(
        () => this.abandon(callId, errorFromStatus({ code: GrpcStatus.DEADLINE_EXCEEDED, details: `Deadline exceeded after ${timeoutMs} ms (lock stream to ${this.endpoint})` })),
        timeoutMs,
      );
      if (signal) {
        p.onAbort = () => this.abandon(callId, signal.reason);
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.send(request(callId, method, req));
    });
  }

  /** Delivers one response from the server. */
  onData(msg: WireLockStreamResponse): void {
    const callId = String(msg.callId);
    const p = this.take(callId);
    if (!p) return; // answered after it was abandoned (deadline, abort)
    const field = LOCK_STREAM_OPS[p.method];
    if (msg.result === 'error' && msg.error) p.reject(errorFromCallError(msg.error));
    else if (msg.result === field && msg[field]) p.resolve(msg[field] as never);
    else p.reject(new LatchClientError('PROTOCOL', `Locks.Stream answered call ${callId} (${p.method}) with ${msg.result ?? 'no result'}`));
  }

  /** The stream ended: cleanly (null) or with a status. Called at most once by the wire; later calls are ignored. */
  onEnd(status: RpcStatusLike | null): void {
    if (this.closed) return;
    const unimplemented = status?.code === GrpcStatus.UNIMPLEMENTED;
    this.shut(unimplemented);
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) {
      this.unhook(p);
      if (unimplemented) {
        // The server does not know Locks.Stream, so none of these ran: send them the old way.
        const remaining = Math.max(1, p.deadline - this.deps.clock.now());
        this.deps.unary(p.method, p.req as never, { timeoutMs: remaining, ...(p.signal ? { signal: p.signal } : {}) }).then((res) => p.resolve(res as never), p.reject);
      } else {
        p.reject(this.failure(status));
      }
    }
  }

  /** Closes the stream (the client is closing): pending calls reject with `err`. */
  close(err: Error): void {
    if (this.closed) return;
    this.shut(false);
    this.wire.cancel();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) {
      this.unhook(p);
      p.reject(err);
    }
  }

  /** What a pending call fails with when the stream fails or ends: a transport failure, exactly as for a unary call. */
  private failure(status: RpcStatusLike | null): Error {
    const why = status ? `failed: ${status.details || `gRPC status ${status.code}`}` : 'ended';
    return errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: `the lock stream to ${this.endpoint} ${why}` });
  }

  private send(msg: WireLockStreamRequest): void {
    try {
      this.wire.write(msg);
    } catch (err) {
      this.wire.cancel();
      this.onEnd({ code: GrpcStatus.UNAVAILABLE, details: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Gives up on a pending call: tells the server (a waiting acquire stops waiting) and rejects it. */
  private abandon(callId: string, err: unknown): void {
    const p = this.take(callId);
    if (!p) return;
    if (!this.closed) this.send({ callId, cancel: {} });
    p.reject(err);
  }

  private take(callId: string): PendingCall | undefined {
    const p = this.pending.get(callId);
    if (!p) return undefined;
    this.pending.delete(callId);
    this.unhook(p);
    if (this.pending.size === 0) this.idleSince = this.deps.clock.now();
    return p;
  }

  private unhook(p: PendingCall): void {
    if (p.timer !== undefined) this.deps.timers.clearTimeout(p.timer);
    p.timer = undefined;
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    p.onAbort = undefined;
  }

  private shut(unimplemented: boolean): void {
    this.closed = true;
    this.disarmIdle();
    this.deps.onClosed(this, unimplemented);
  }

  /** One timer for the stream's life (not one per call): closes it once it has been idle for LOCK_STREAM_IDLE_MS. */
  private armIdle(ms: number): void {
    this.idleTimer = this.deps.timers.setTimeout(() => {
      this.idleTimer = undefined;
      if (this.closed) return;
      const idleFor = this.pending.size === 0 ? this.deps.clock.now() - this.idleSince : 0;
      if (idleFor >= LOCK_STREAM_IDLE_MS) this.close(this.failure(null));
      else this.armIdle(LOCK_STREAM_IDLE_MS - idleFor);
    }, ms);
  }

  private disarmIdle(): void {
    if (this.idleTimer !== undefined) this.deps.timers.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
