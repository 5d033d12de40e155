/**
 * The keepalives of every session at one endpoint over ONE `Sessions.KeepAliveBatch` stream
 * (proto/latch.proto), instead of one `Sessions.KeepAlive` stream per session. `open` hands each
 * KeepAliveLoop a virtual KeepAliveStreamHandle that behaves as its own per-session stream:
 *
 * - `send` queues the request; the queue goes out as one batch at most `flushWindowMs` later (at
 *   most MAX_KEEPALIVE_BATCH requests and MAX_KEEPALIVE_BATCH_BYTES per message; more go in several).
 *   The delay is safe: the loop has already recorded the (earlier) send time in its LocalLease, and
 *   the lease runs from the send time, so holding a request back only makes the lease more
 *   conservative, never longer than the leader's deadline (which runs from the later receipt).
 * - answers are routed by session_id to every live handle that sent for that session (normally one).
 * - `cancel` unregisters the handle; the physical stream is cancelled once no handle is left on it.
 * - when the physical stream ends or fails, every handle on it gets `onEnd(err)` as its own
 *   per-session stream would have (the same typed error, with any leader hint), and the next `open`
 *   starts a new physical stream. A session error (SESSION_EXPIRED / SESSION_NOT_FOUND) ending the
 *   whole stream would say nothing about each session (the server answers those per session with
 *   `expired: true`), so it is reported as a retryable UNAVAILABLE instead of expiring every session.
 * - when the server answers UNIMPLEMENTED (an older server), nothing on the stream ran: each handle
 *   moves to its own `Sessions.KeepAlive` stream and resends what it had sent, and new handles get
 *   per-session streams for KEEPALIVE_FALLBACK_MS before the batch stream is tried again.
 *
 * A stream that stops answering without failing (a dead connection) looks the same to every handle
 * on it: each KeepAliveLoop rotates away after an unanswered interval, as with per-session streams on
 * the same (dead) channel, and the stream is cancelled when the last one has left.
 */
import type { Clock } from '../common/clock.js';
import { GrpcStatus } from '../common/errors.js';
import { errorFromStatus, type RpcStatusLike } from './error-mapping.js';
import { SessionExpiredError, UnavailableError } from './errors.js';
import type { KeepAliveStreamHandle, StreamHandlers } from './rpc-transport.js';
import type { TimerHandle, Timers } from './timers.js';
import type { WireKeepAliveBatchRequest, WireKeepAliveBatchResponse, WireKeepAliveRequest, WireKeepAliveResponse } from './wire.js';

/** Most requests in one KeepAliveBatchRequest (the server ends a stream that sends more with INVALID_ARGUMENT). */
export const MAX_KEEPALIVE_BATCH = 4096;

/**
 * Most bytes of one KeepAliveBatchRequest, estimated from above (the server refuses messages over
 * 64 KiB): a request costs at most 4 bytes plus the decimal digits of its two ids, since a varint
 * never has more bytes than its value has decimal digits.
 */
export const MAX_KEEPALIVE_BATCH_BYTES = 60_000;

/** How long queued keepalives wait for company before they are sent (default of `flushWindowMs`). */
export const KEEPALIVE_FLUSH_WINDOW_MS = 10;

/** After a server answered KeepAliveBatch with UNIMPLEMENTED, new keepalive streams to it are per-session this long. */
export const KEEPALIVE_FALLBACK_MS = 60_000;

/** The bidi call under one physical batch stream (grpc-js in production, a fake in tests). */
export interface KeepAliveBatchWire {
  /** Sends one batch. */
  write(msg: WireKeepAliveBatchRequest): void;
  /** Cancels the call; the mux ignores whatever it reports afterwards. */
  cancel(): void;
}

/** Where a physical batch stream reports: each response, then its end (null = clean) at most once. */
export interface KeepAliveBatchSink {
  onData(msg: WireKeepAliveBatchResponse): void;
  onEnd(status: RpcStatusLike | null): void;
}

/** What a KeepAliveMux needs. */
export interface KeepAliveMuxDeps {
  /** Opens a KeepAliveBatch stream reporting to `sink`; throws if it cannot (e.g. the client is closed). */
  openBatch(sink: KeepAliveBatchSink): KeepAliveBatchWire;
  /** Opens a per-session Sessions.KeepAlive stream (the fallback). */
  openSingle(handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle;
  readonly timers: Timers;
  readonly clock: Clock;
  /** How long queued requests wait before they are sent (default KEEPALIVE_FLUSH_WINDOW_MS; 0 = next timer turn). */
  readonly flushWindowMs?: number;
}

/** Upper bound of the encoded size of one KeepAliveRequest inside a batch (see MAX_KEEPALIVE_BATCH_BYTES). */
function requestBytes(req: WireKeepAliveRequest): number {
  return 4 + String(req.sessionId).length + String(req.nonce).length;
}

type HandleState = 'batch' | 'single' | 'done';

/** One session's virtual keepalive stream; see the file comment. */
class MuxHandle implements KeepAliveStreamHandle {
  state: HandleState = 'batch';
  /** Session ids this handle sent for (the routes that lead to it). */
  readonly sessions = new Set<string>();
  /** Requests sent while the batch stream had not answered anything yet (resent on UNIMPLEMENTED). */
  unconfirmed: WireKeepAliveRequest[] = [];
  /** The per-session stream after an UNIMPLEMENTED fallback. */
  single: KeepAliveStreamHandle | undefined;

  constructor(
    readonly batch: BatchStream,
    private readonly handlers: StreamHandlers<WireKeepAliveResponse>,
  ) {}

  send(req: WireKeepAliveRequest): void {
    if (this.state === 'single') this.single?.send(req);
    else if (this.state === 'batch') this.batch.enqueue(this, req);
  }

  cancel(): void {
    const was = this.state;
    this.state = 'done';
    if (was === 'batch') this.batch.remove(this);
    else if (was === 'single') this.single?.cancel();
  }

  /** An answer for one of this handle's sessions. */
  deliver(res: WireKeepAliveResponse): void {
    if (this.state !== 'done') this.handlers.onData(res);
  }

  /** The stream under this handle ended; reports it once. */
  end(err: Error | null): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.handlers.onEnd(err);
  }

  /** Moves to a per-session stream (the server lacks KeepAliveBatch) and resends what never ran. */
  fallBack(openSingle: (handlers: StreamHandlers<WireKeepAliveResponse>) => KeepAliveStreamHandle): void {
    if (this.state !== 'batch') return;
    this.state = 'single';
    const resend = this.unconfirmed;
    this.unconfirmed = [];
    this.single = openSingle({
      onData: (res) => this.deliver(res),
      onEnd: (err) => this.end(err),
    });
    for (const req of resend) this.single.send(req);
  }
}

/** One physical KeepAliveBatch stream and the handles on it. */
class BatchStream implements KeepAliveBatchSink {
  readonly handles = new Set<MuxHandle>();
  private readonly routes = new Map<string, Set<MuxHandle>>();
  private queue: { readonly handle: MuxHandle; readonly req: WireKeepAliveRequest }[] = [];
  private flushTimer: TimerHandle | undefined;
  /** True once the server answered anything: it implements KeepAliveBatch, so nothing needs resending. */
  private confirmed = false;
  closed = false;
  wire: KeepAliveBatchWire | undefined;

  constructor(private readonly mux: KeepAliveMux) {}

  enqueue(handle: MuxHandle, req: WireKeepAliveRequest): void {
    if (this.closed) return;
    const sid = String(req.sessionId);
    if (!handle.sessions.has(sid)) {
      handle.sessions.add(sid);
      let set = this.routes.get(sid);
      if (!set) this.routes.set(sid, (set = new Set()));
      set.add(handle);
    }
    if (!this.confirmed) handle.unconfirmed.push(req);
    this.queue.push({ handle, req });
    if (this.flushTimer === undefined) this.flushTimer = this.mux.timers.setTimeout(() => this.flush(), this.mux.flushWindowMs);
  }

  remove(handle: MuxHandle): void {
    if (!this.handles.delete(handle)) return;
    this.unroute(handle);
    if (this.handles.size === 0 && !this.closed) {
      // The last session left: nothing will use this stream again.
      this.shut();
      this.wire?.cancel();
    }
  }

  /** Sends the queued requests of live handles, split by count and size. */
  flush(): void {
    this.flushTimer = undefined;
    const queued = this.queue;
    this.queue = [];
    if (this.closed || !this.wire) return;
    let batch: WireKeepAliveRequest[] = [];
    let bytes = 0;
    const batches: WireKeepAliveRequest[][] = [];
    for (const { handle, req } of queued) {
      if (handle.state !== 'batch') continue; // cancelled while queued
      const b = requestBytes(req);
      if (batch.length > 0 && (batch.length >= MAX_KEEPALIVE_BATCH || bytes + b > MAX_KEEPALIVE_BATCH_BYTES)) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(req);
      bytes += b;
    }
    if (batch.length > 0) batches.push(batch);
    for (const requests of batches) {
      if (this.closed) return;
      try {
        this.wire.write({ requests });
      } catch (err) {
        this.wire.cancel();
        this.onEnd({ code: GrpcStatus.UNAVAILABLE, details: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  onData(msg: WireKeepAliveBatchResponse): void {
    if (this.closed) return;
    if (!this.confirmed) {
      this.confirmed = true;
      for (const h of this.handles) h.unconfirmed = [];
    }
    for (const res of msg.responses ?? []) {
      const set = this.routes.get(String(res.sessionId));
      if (!set) continue; // its handle was cancelled
      for (const h of set.size === 1 ? set : [...set]) h.deliver(res);
    }
  }

  onEnd(status: RpcStatusLike | null): void {
    if (this.closed) return;
    this.shut();
    const handles = [...this.handles];
    this.handles.clear();
    this.routes.clear();
    if (status?.code === GrpcStatus.UNIMPLEMENTED) {
      this.mux.unimplemented();
      for (const h of handles) h.fallBack((handlers) => this.mux.deps.openSingle(handlers));
      return;
    }
    const err = status === null ? null : this.mux.endError(status);
    for (const h of handles) h.end(err);
  }

  /** Closes the stream from this side (the client is closing): every handle ends with `err`. */
  close(err: Error): void {
    if (this.closed) return;
    this.shut();
    this.wire?.cancel();
    const handles = [...this.handles];
    this.handles.clear();
    this.routes.clear();
    for (const h of handles) h.end(err);
  }

  private shut(): void {
    this.closed = true;
    this.queue = [];
    if (this.flushTimer !== undefined) this.mux.timers.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.mux.detach(this);
  }

  private unroute(handle: MuxHandle): void {
    for (const sid of handle.sessions) {
      const set = this.routes.get(sid);
      set?.delete(handle);
      if (set?.size === 0) this.routes.delete(sid);
    }
  }
}

/** The keepalive streams of one endpoint; see the file comment. */
export class KeepAliveMux {
  private current: BatchStream | undefined;
  private fallbackUntil: number | undefined;
  private opened = 0;
  readonly flushWindowMs: number;

  constructor(
    readonly endpoint: string,
    readonly deps: KeepAliveMuxDeps,
  ) {
    this.flushWindowMs = Math.max(0, deps.flushWindowMs ?? KEEPALIVE_FLUSH_WINDOW_MS);
  }

  /** The timers the mux schedules flushes with. */
  get timers(): Timers {
    return this.deps.timers;
  }

  /** Physical batch streams opened so far (diagnostics and tests). */
  get streamsOpened(): number {
    return this.opened;
  }

  /** Handles on the current physical batch stream. */
  get size(): number {
    return this.current?.handles.size ?? 0;
  }

  /** A keepalive stream for one session; callbacks never run before this returns. */
  open(handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle {
    if (this.fallbackUntil !== undefined) {
      if (this.deps.clock.now() < this.fallbackUntil) return this.deps.openSingle(handlers);
      this.fallbackUntil = undefined;
    }
    let batch = this.current;
    if (!batch) {
      batch = new BatchStream(this);
      try {
        batch.wire = this.deps.openBatch(batch);
      } catch (err) {
        batch.closed = true;
        const h = new MuxHandle(batch, handlers);
        queueMicrotask(() => h.end(err instanceof Error ? err : new Error(String(err))));
        return h;
      }
      this.opened++;
      // A stream that failed while opening has already detached itself; still report through it.
      if (!batch.closed) this.current = batch;
    }
    const h = new MuxHandle(batch, handlers);
    if (batch.closed) {
      queueMicrotask(() => h.end(this.endError({ code: GrpcStatus.UNAVAILABLE, details: `the keepalive stream to ${this.endpoint} ended as it opened` })));
      return h;
    }
    batch.handles.add(h);
    return h;
  }

  /** Ends every stream (the client is closing); their handles end with `err`. */
  close(err: Error): void {
    this.current?.close(err);
    this.current = undefined;
  }

  /** @internal The stream is over: the next `open` starts a new one. */
  detach(batch: BatchStream): void {
    if (this.current === batch) this.current = undefined;
  }

  /** @internal The server lacks KeepAliveBatch: per-session streams for a while. */
  unimplemented(): void {
    this.fallbackUntil = this.deps.clock.now() + KEEPALIVE_FALLBACK_MS;
  }

  /** @internal What each handle's onEnd gets when the physical stream fails with `status`. */
  endError(status: RpcStatusLike): Error {
    const err = errorFromStatus(status);
    if (!(err instanceof SessionExpiredError)) return err;
    return new UnavailableError(`unavailable: the keepalive stream to ${this.endpoint} failed with a session error (${err.message}); each session asks again`, false, { grpcCode: status.code, cause: err });
  }
}
