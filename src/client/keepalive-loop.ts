/**
 * The keepalive stream of one session. It sends `{ sessionId, nonce }` at once on every new stream
 * and then every `intervalMs` (every `jeopardyIntervalMs` while in jeopardy), records each send
 * time in the LocalLease and feeds it every acknowledgement. A stream that ends, fails, or leaves
 * a keepalive unanswered for a whole interval is dropped and the next endpoint is tried (hinted
 * leader first, backoff after a full pass), until `stop()` or the session is gone.
 */
import type { Clock } from '../common/clock.js';
import { SessionExpiredError } from './errors.js';
import { leaderHintOf } from './error-mapping.js';
import type { LeaseEvent, LocalLease } from './local-lease.js';
import type { RetryPlan } from './retry-plan.js';
import type { KeepAliveStreamHandle, RpcTransport } from './rpc-transport.js';
import type { TimerHandle, Timers } from './timers.js';
import type { WireKeepAliveResponse } from './wire.js';

/** What a keepalive loop needs. */
export interface KeepAliveLoopDeps {
  readonly transport: RpcTransport;
  readonly plan: RetryPlan;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly lease: LocalLease;
  readonly sessionId: bigint;
  /** Send period while safe (the session's TTL / 3 by default). */
  readonly intervalMs: number;
  /** Send period while in jeopardy (shorter: the session needs an answer soon). */
  readonly jeopardyIntervalMs: number;
  /** Receives the lease transitions caused by answers. */
  onLeaseEvents(events: readonly LeaseEvent[]): void;
  /** Receives each stream failure (diagnostics only). */
  onStreamError?(endpoint: string, err: Error | null): void;
}

/** Keeps one session alive; see the file comment. */
export class KeepAliveLoop {
  private stream: { readonly endpoint: string; readonly handle: KeepAliveStreamHandle } | undefined;
  private tickTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private nonce = 0n;
  private stopped = true;

  constructor(private readonly deps: KeepAliveLoopDeps) {}

  /** The endpoint of the current stream, if any. */
  get endpoint(): string | undefined {
    return this.stream?.endpoint;
  }

  /** Starts keeping the session alive. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Stops: cancels the stream and every timer. */
  stop(): void {
    this.stopped = true;
    this.dropStream();
    if (this.connectTimer !== undefined) this.deps.timers.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  /** Drops the current stream now and reconnects elsewhere (e.g. on entering jeopardy). */
  rotate(): void {
    if (this.stopped || !this.stream) return;
    const { endpoint } = this.stream;
    this.dropStream();
    this.deps.plan.failed(endpoint);
    this.connect();
  }

  private connect(): void {
    if (this.stopped || this.stream || this.connectTimer !== undefined) return;
    const { endpoint, delayMs } = this.deps.plan.next();
    if (delayMs > 0) {
      this.connectTimer = this.deps.timers.setTimeout(() => {
        this.connectTimer = undefined;
        this.open(endpoint);
      }, delayMs);
    } else {
      this.open(endpoint);
    }
  }

  private open(endpoint: string): void {
    if (this.stopped) return;
    // Answers to keepalives sent on an earlier stream can no longer arrive.
    this.deps.lease.forgetPending();
    const handle = this.deps.transport.keepAlive(endpoint, {
      onData: (res) => {
        if (this.stream?.handle === handle) this.onAnswer(endpoint, res);
      },
      onEnd: (err) => {
        if (this.stream?.handle !== handle) return;
        this.dropStream();
        this.deps.onStreamError?.(endpoint, err);
        if (err instanceof SessionExpiredError) {
          this.deps.onLeaseEvents(this.deps.lease.serverExpired());
          return;
        }
        this.deps.plan.failed(endpoint, err ? leaderHintOf(err) : undefined);
        this.connect();
      },
    });
    this.stream = { endpoint, handle };
    this.send();
    this.scheduleTick();
  }

  private onAnswer(endpoint: string, res: WireKeepAliveResponse): void {
    if (String(res.sessionId) !== this.deps.sessionId.toString()) return;
    if (res.expired) {
      this.deps.onLeaseEvents(this.deps.lease.serverExpired());
      return;
    }
    let nonce: bigint;
    try {
      nonce = BigInt(res.nonce);
    } catch {
      return;
    }
    this.deps.plan.succeeded(endpoint, true);
    const events = this.deps.lease.acked(nonce, Number(res.ttlMs));
    if (events.length > 0) this.deps.onLeaseEvents(events);
  }

  private send(): void {
    if (!this.stream) return;
    this.nonce++;
    this.deps.lease.sent(this.nonce);
    this.stream.handle.send({ sessionId: this.deps.sessionId.toString(), nonce: this.nonce.toString() });
  }

  private interval(): number {
    return this.deps.lease.state === 'jeopardy' ? this.deps.jeopardyIntervalMs : this.deps.intervalMs;
  }

  private scheduleTick(): void {
    if (this.tickTimer !== undefined) this.deps.timers.clearTimeout(this.tickTimer);
    this.tickTimer = this.deps.timers.setTimeout(() => this.tick(), this.interval());
  }

  private tick(): void {
    this.tickTimer = undefined;
    if (this.stopped || !this.stream) return;
    const oldest = this.deps.lease.oldestUnacked();
    if (oldest !== undefined && this.deps.clock.now() - oldest >= this.interval()) {
      // The stream looks stuck (a leader without quorum, a dead connection): try elsewhere.
      this.rotate();
      return;
    }
    this.send();
    this.scheduleTick();
  }

  private dropStream(): void {
    if (this.tickTimer !== undefined) this.deps.timers.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    const s = this.stream;
    this.stream = undefined;
    s?.handle.cancel();
  }
}
