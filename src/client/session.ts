/**
 * A session: the client's lease with the cluster, kept alive in the background, and the owner of
 * its locks and election campaigns (DESIGN §3, §4).
 *
 * - Mutating calls run one at a time in call order (SerialQueue), each with the next `requestSeq`;
 *   retries of one call reuse its seq, so a retry after a leader change is answered from the
 *   server's dedup slot and a retried blocking acquire re-attaches to its waiter.
 * - Lease states come from LocalLease. On jeopardy every held lock's signal fires (reason
 *   `LockLostError('jeopardy')`) and the keepalive keeps trying every endpoint through the grace
 *   period. On `safe` the session survived, but its locks stay lost: the SDK gives them back to the
 *   server (release) so nothing stays held that the application was told it lost. On `expired`
 *   every operation fails with SessionExpiredError.
 * - A grant that arrives while the session is in jeopardy is handed out only once the session is
 *   safe again (or fails with SessionExpiredError), never while the local lease is out.
 */
import type { Clock } from '../common/clock.js';
import { assertNever } from '../common/assert.js';
import { isLatchError } from '../common/errors.js';
import {
  InvalidArgumentError,
  LatchClientError,
  LockHeldError,
  LockLostError,
  NotHolderError,
  SessionExpiredError,
  UnavailableError,
  WaitTimeoutError,
} from './errors.js';
import { idFromWire, leaderFromWire, lockInfoFromWire, modeToWire, sameLeader, sequencerFromWire, valueToWire } from './convert.js';
import { Election, type ElectionHost } from './election.js';
import { KeepAliveLoop } from './keepalive-loop.js';
import { defaultDriftMargin, LocalLease, type ExpiryCause, type LeaseEvent, type LeaseState } from './local-lease.js';
import { Lock, markLost, type LockHost, type LockKind } from './lock.js';
import { Listeners, type Listener } from './listeners.js';
import { checkMetadata, checkWait, type LockOptions, type SessionEvent, type SessionOptions, type TryLockOptions } from './session-options.js';
import { checkElectionName, checkLockName, electionLockName } from './names.js';
import { resumableStream, type StoppableIterator } from './resumable-stream.js';
import type { Router } from './router.js';
import type { RpcTransport } from './rpc-transport.js';
import { SerialQueue } from './serial-queue.js';
import { sleep, type TimerHandle, type Timers } from './timers.js';
import type { LeaderInfo, LockMode, Sequencer, Value } from './types.js';

export type { LockOptions, SessionEvent, SessionOptions, TryLockOptions } from './session-options.js';

/** What a session needs from its client. Internal to the SDK. */
export interface SessionContext {
  readonly router: Router;
  readonly transport: RpcTransport;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly callTimeoutMs: number;
  readonly waitMarginMs: number;
  readonly clientName: string;
  /** Called once the session is closed or expired. */
  onEnded(session: Session): void;
  /** Registers a stream iterator to stop when the client closes. */
  track<T>(it: StoppableIterator<T>): StoppableIterator<T>;
}

/** Longest single blocking Acquire/Campaign; longer waits are made of several (each a new request). */
export const WAIT_CHUNK_MS = 60_000;

const MAX_U32 = 2 ** 32 - 1;

type GrantTarget =
  | { readonly type: 'lock'; readonly name: string; readonly mode: LockMode; readonly value: Buffer }
  | { readonly type: 'election'; readonly election: string; readonly value: Buffer };

/** What a Release or Resign names. */
type ReleaseTarget = { readonly type: 'lock'; readonly name: string } | { readonly type: 'election'; readonly election: string };

function lockNameOf(t: GrantTarget): string {
  return t.type === 'lock' ? t.name : electionLockName(t.election);
}

const noop = (): void => undefined;

/** A session with the cluster; see the file comment. Made by `LatchClient.session`. */
export class Session implements AsyncDisposable {
  /** The session id (the log index of its OpenSession entry). */
  readonly id: bigint;
  /** The TTL the server granted, in ms. */
  readonly ttlMs: number;
  private readonly lease: LocalLease;
  private readonly keepalive: KeepAliveLoop;
  private readonly serial = new SerialQueue();
  private readonly locks = new Map<string, Lock>();
  private readonly listeners = new Listeners<SessionEvent>();
  private readonly opsAbort = new AbortController();
  private readonly settleWaiters = new Set<() => void>();
  private readonly lockHost: LockHost;
  private readonly electionHost: ElectionHost;
  private seq = 0n;
  private leaseTimer: TimerHandle | undefined;
  private closing: Promise<void> | undefined;
  private lastStreamError: Error | null = null;

  /** Opens a session (internal: use `LatchClient.session`). */
  static async open(ctx: SessionContext, opts: SessionOptions = {}): Promise<Session> {
    const ttl = opts.ttlMs ?? 0;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_U32) {
      throw new InvalidArgumentError(`ttlMs must be an integer number of ms in [0, 2^32), got ${String(opts.ttlMs)}`);
    }
    const name = opts.name ?? ctx.clientName;
    if (typeof name !== 'string') throw new InvalidArgumentError('name must be a string');
    const metadata = checkMetadata(opts.metadata);
    const sentAt = ctx.clock.now();
    const res = await ctx.router.call('Sessions/Open', () => ({ ttlMs: ttl, client: name, metadata }), { timeoutMs: ctx.callTimeoutMs });
    const id = idFromWire(res.sessionId, 'session id');
    const granted = Number(res.ttlMs);
    if (!Number.isInteger(granted) || granted <= 0) throw new LatchClientError('PROTOCOL', `server granted a session TTL of ${String(res.ttlMs)}`);
    return new Session(ctx, id, granted, sentAt, opts);
  }

  private constructor(
    private readonly ctx: SessionContext,
    id: bigint,
    ttlMs: number,
    openedSentAt: number,
    opts: SessionOptions,
  ) {
    this.id = id;
    this.ttlMs = ttlMs;
    const drift = opts.driftMarginMs ?? defaultDriftMargin(ttlMs);
    this.lease = new LocalLease({ ttlMs, driftMarginMs: Math.min(drift, Math.floor((ttlMs - 1) / 2)), graceMs: opts.graceMs ?? ttlMs }, ctx.clock, openedSentAt);
    const interval = opts.keepAliveIntervalMs ?? Math.max(1, Math.floor(ttlMs / 3));
    if (!Number.isFinite(interval) || interval <= 0) throw new InvalidArgumentError(`keepAliveIntervalMs must be positive, got ${interval}`);
    this.keepalive = new KeepAliveLoop({
      transport: ctx.transport,
      plan: ctx.router.plan(),
      clock: ctx.clock,
      timers: ctx.timers,
      lease: this.lease,
      sessionId: id,
      intervalMs: interval,
      jeopardyIntervalMs: Math.max(20, Math.min(interval, Math.floor(ttlMs / 10))),
      onLeaseEvents: (events) => this.handle(events),
      onStreamError: (_endpoint, err) => {
        this.lastStreamError = err;
      },
    });
    this.lockHost = {
      poll: () => this.poll(),
      release: (lock) => this.releaseLock(lock),
      setValue: (lock, value) => this.setLockValue(lock, value),
    };
    this.electionHost = {
      campaign: (election, value, waitMs, signal) => this.grant({ type: 'election', election, value: valueToWire(value) }, waitMs, signal),
      resign: (election) => this.resign(election),
      proclaim: (election, value) => this.proclaim(election, value),
      leader: (election) => this.leaderOf(election),
      observe: (election, signal) => this.observeLeader(election, signal),
      leadership: (election) => this.locks.get(electionLockName(election)),
    };
    this.keepalive.start();
    this.scheduleLeaseCheck();
  }

  /** The session's state: `safe`, `jeopardy`, `expired`, or `closed` (once `close()` was called). */
  /**
   * When the local lease ends, on the session's clock (ms): the send time of the last acknowledged
   * keepalive plus the TTL less the drift margin. Locks are reported held only before it.
   */
  get leaseEndsAt(): number {
    return this.lease.leaseEndsAt;
  }

  get state(): LeaseState {
    this.poll();
    return this.closing ? 'closed' : this.lease.state;
  }

  /** The last keepalive stream failure (diagnostics), or null. */
  get lastKeepAliveError(): Error | null {
    return this.lastStreamError;
  }

  /** The locks (and election leaderships) this session holds now. */
  heldLocks(): Lock[] {
    this.poll();
    return [...this.locks.values()].filter((l) => l.held);
  }

  /** Subscribes to `jeopardy`, `safe` or `expired`; returns a function that unsubscribes. */
  on<K extends SessionEvent['type']>(type: K, listener: Listener<SessionEvent, K>): () => void {
    return this.listeners.on(type, listener);
  }

  /** Unsubscribes a listener. */
  off<K extends SessionEvent['type']>(type: K, listener: Listener<SessionEvent, K>): void {
    this.listeners.off(type, listener);
  }

  /** Acquires `name`, waiting up to `waitMs` (default forever); rejects with WaitTimeoutError, or LockHeldError when `waitMs` is 0. */
  async lock(name: string, opts: LockOptions = {}): Promise<Lock> {
    const target = this.lockTarget(name, opts);
    const waitMs = checkWait(opts.waitMs ?? Infinity);
    const lock = await this.grant(target, waitMs, opts.signal);
    if (lock === null) throw new LockHeldError(`lock ${name} is held`);
    return lock;
  }

  /** Tries once to acquire `name`: the Lock, or null when it is held. */
  async tryLock(name: string, opts: TryLockOptions = {}): Promise<Lock | null> {
    return this.grant(this.lockTarget(name, opts), 0);
  }

  /** Acquires `name`, runs `fn` with the lock, and releases it afterwards, even when `fn` throws. */
  async withLock<T>(name: string, fn: (lock: Lock) => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
    const lock = await this.lock(name, opts);
    let result: T;
    try {
      result = await fn(lock);
    } catch (err) {
      await lock.release().catch(noop);
      throw err;
    }
    await lock.release();
    return result;
  }

  /** The election `name` (a lock on `election/<name>`) as seen by this session. */
  election(name: string): Election {
    checkElectionName(name);
    return new Election(this.electionHost, name, this.id);
  }

  /**
   * Closes the session: every lock's signal fires, pending calls are abandoned, and the server
   * releases everything the session held (no lock-delay). Idempotent. Rejects only when no
   * endpoint confirmed the close within `timeoutMs` (default the client's call timeout); the
   * session then expires on the server after its TTL.
   */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closing) return this.closing;
    const timeoutMs = opts.timeoutMs ?? this.ctx.callTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) return Promise.reject(new InvalidArgumentError(`timeoutMs must be a positive number of ms, got ${String(timeoutMs)}`));
    const closedErr = new LatchClientError('SESSION_CLOSED', `session ${this.id} was closed`);
    for (const l of this.locks.values()) l[markLost]('session-closed');
    this.opsAbort.abort(closedErr);
    this.wakeSettleWaiters();
    const alreadyGone = this.lease.state === 'expired';
    this.closing = (async () => {
      try {
        if (alreadyGone) return;
        await this.serial.run(async () => {
          const seq = this.nextSeq();
          try {
            await this.ctx.router.call('Sessions/Close', () => ({ sessionId: this.id.toString(), requestSeq: seq.toString() }), { timeoutMs });
          } catch (err) {
            if (!(err instanceof SessionExpiredError)) throw err;
          }
        });
      } finally {
        this.shutdown();
      }
    })();
    return this.closing;
  }

  /** Closes the session (`await using session = await client.session()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- lease ----

  private poll(): void {
    const events = this.lease.poll();
    if (events.length > 0) this.handle(events);
  }

  private handle(events: readonly LeaseEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'jeopardy':
          for (const l of this.locks.values()) l[markLost]('jeopardy');
          this.listeners.emit({ type: 'jeopardy', sessionId: this.id, graceMs: Math.max(0, ev.graceEndsAt - ev.at) });
          break;
        case 'safe':
          // The session survived, but its locks were reported lost: give them back.
          for (const l of [...this.locks.values()]) l.release().catch(noop);
          this.wakeSettleWaiters();
          this.listeners.emit({ type: 'safe', sessionId: this.id });
          break;
        case 'expired':
          this.expired(ev.cause);
          break;
        default:
          assertNever(ev, 'lease event');
      }
    }
    this.scheduleLeaseCheck();
  }

  private expired(cause: ExpiryCause): void {
    const error = new SessionExpiredError(
      cause === 'server'
        ? `session ${this.id} has expired on the server`
        : `session ${this.id} is considered expired: no keepalive was answered within the grace period`,
    );
    for (const l of this.locks.values()) l[markLost]('expired');
    this.locks.clear();
    this.opsAbort.abort(error);
    this.wakeSettleWaiters();
    this.keepalive.stop();
    if (cause === 'grace-ended' && !this.closing) {
      // The server may still have it (we could not reach it): ask it to let go, best effort.
      const seq = this.nextSeq();
      void this.ctx.router
        .call('Sessions/Close', () => ({ sessionId: this.id.toString(), requestSeq: seq.toString() }), { timeoutMs: this.ctx.callTimeoutMs })
        .catch(noop);
    }
    this.shutdown();
    this.listeners.emit({ type: 'expired', sessionId: this.id, error, cause });
  }

  private shutdown(): void {
    this.keepalive.stop();
    if (this.lease.state !== 'expired') this.lease.close();
    if (this.leaseTimer !== undefined) this.ctx.timers.clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    for (const l of this.locks.values()) l[markLost]('session-closed');
    this.locks.clear();
    this.wakeSettleWaiters();
    this.ctx.onEnded(this);
  }

  private scheduleLeaseCheck(): void {
    if (this.leaseTimer !== undefined) this.ctx.timers.clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    if (this.closing) return;
    const at = this.lease.nextCheckAt();
    if (at === undefined) return;
    this.leaseTimer = this.ctx.timers.setTimeout(() => {
      this.leaseTimer = undefined;
      this.poll();
      this.scheduleLeaseCheck();
    }, Math.max(0, at - this.ctx.clock.now()));
  }

  private wakeSettleWaiters(): void {
    const ws = [...this.settleWaiters];
    this.settleWaiters.clear();
    for (const w of ws) w();
  }

  /** Resolves at the next safe / expired / closed transition. */
  private nextSettle(): Promise<void> {
    return new Promise((resolve) => this.settleWaiters.add(resolve));
  }

  private assertOpen(): void {
    if (this.closing) throw new LatchClientError('SESSION_CLOSED', `session ${this.id} is closed`);
    this.poll();
    if (this.lease.state === 'expired') throw new SessionExpiredError(`session ${this.id} has expired`);
  }

  private nextSeq(): bigint {
    this.seq++;
    return this.seq;
  }

  /** Runs one mutating call (inside the serial queue) with a fresh seq; a gone session expires locally. */
  private async mutate<R>(call: (seq: string, signal: AbortSignal) => Promise<R>): Promise<R> {
    this.assertOpen();
    const seq = this.nextSeq().toString();
    try {
      return await call(seq, this.opsAbort.signal);
    } catch (err) {
      if (err instanceof SessionExpiredError && this.lease.state !== 'expired' && !this.closing) this.handle(this.lease.serverExpired());
      throw err;
    }
  }

  // ---- grants (locks and campaigns) ----

  private lockTarget(name: string, opts: TryLockOptions): GrantTarget {
    checkLockName(name);
    const mode = opts.mode ?? 'exclusive';
    modeToWire(mode);
    return { type: 'lock', name, mode, value: valueToWire(opts.value) };
  }

  /** Acquires a lock or wins a campaign; null when a try (waitMs 0) finds it held. */
  private grant(target: GrantTarget, waitMs: number, signal?: AbortSignal): Promise<Lock | null> {
    this.assertOpen();
    const releaseLate = (l: Lock | null): void => {
      l?.release().catch(noop);
    };
    if (signal?.aborted) return Promise.reject(signal.reason);
    const op = this.serial.run(() => this.grantSerial(target, waitMs, signal));
    if (!signal) return op;
    return new Promise<Lock | null>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        op.then(releaseLate, noop);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      op.then(
        (l) => {
          signal.removeEventListener('abort', onAbort);
          resolve(l);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  private async grantSerial(target: GrantTarget, waitMs: number, signal: AbortSignal | undefined): Promise<Lock | null> {
    const lockName = lockNameOf(target);
    const start = this.ctx.clock.now();
    for (;;) {
      this.assertOpen();
      if (signal?.aborted) throw signal.reason;
      if (this.locks.has(lockName)) throw new LockHeldError(`session ${this.id} already holds ${lockName}; release it first`);
      const remaining = waitMs === Infinity ? Infinity : waitMs - (this.ctx.clock.now() - start);
      if (waitMs > 0 && remaining <= 0) throw new WaitTimeoutError(`waited ${waitMs} ms for ${lockName}`);
      const chunk = waitMs === 0 ? 0 : Math.max(1, Math.floor(Math.min(WAIT_CHUNK_MS, remaining)));
      let sequencer: Sequencer | null;
      try {
        sequencer = await this.mutate((seq, opsSignal) => this.callGrant(target, seq, chunk, opsSignal));
      } catch (err) {
        // A try (waitMs 0) that finds the lock held: LOCK_HELD, or for a campaign (which the server
        // always queues) the shortest wait running out.
        if (waitMs === 0 && (err instanceof LockHeldError || err instanceof WaitTimeoutError)) return null;
        if (err instanceof WaitTimeoutError && remaining > chunk) continue;
        if ((err instanceof UnavailableError && err.outcomeUnknown) || isLatchError(err, 'LEADERSHIP_LOST')) this.abandon(target);
        if (err instanceof WaitTimeoutError) throw new WaitTimeoutError(`waited ${waitMs} ms for ${lockName}: ${err.message}`);
        throw err;
      }
      if (sequencer === null) {
        if (waitMs === 0) return null;
        throw new LockHeldError(`lock ${lockName} was not granted`);
      }
      return this.adopt(target, sequencer);
    }
  }

  /** One Acquire or Campaign call: the sequencer when granted, null when a try found it held. */
  private async callGrant(target: GrantTarget, seq: string, chunk: number, signal: AbortSignal): Promise<Sequencer | null> {
    const margin = this.ctx.waitMarginMs;
    const bounds =
      chunk === 0
        ? { timeoutMs: this.ctx.callTimeoutMs, signal }
        : { timeoutMs: chunk + margin, attemptTimeoutMs: Infinity, signal };
    // The server treats a campaign's wait_ms 0 as "forever", so a try campaign waits 1 ms instead.
    const tryWait = target.type === 'election' ? 1 : 0;
    const waitFor = (remaining: number): number => (chunk === 0 ? tryWait : Math.max(1, Math.min(chunk, Math.floor(remaining - margin))));
    const sessionId = this.id.toString();
    if (target.type === 'lock') {
      const res = await this.ctx.router.call(
        'Locks/Acquire',
        (remaining) => ({ sessionId, requestSeq: seq, name: target.name, mode: modeToWire(target.mode), waitMs: waitFor(remaining), value: target.value }),
        bounds,
      );
      if (!res.acquired) return null;
      const s = sequencerFromWire(res.sequencer);
      if (s.name !== target.name || s.sessionId !== this.id || s.mode !== target.mode) {
        throw new LatchClientError('PROTOCOL', `server granted ${s.name} (${s.mode}) to session ${s.sessionId} for a request of session ${this.id} for ${target.name} (${target.mode})`);
      }
      return s;
    }
    const res = await this.ctx.router.call(
      'Elections/Campaign',
      (remaining) => ({ sessionId, requestSeq: seq, name: target.election, value: target.value, waitMs: waitFor(remaining) }),
      bounds,
    );
    const leader = leaderFromWire(target.election, res);
    if (leader === null || leader.sessionId !== this.id) {
      if (chunk === 0) return null;
      throw new LatchClientError('PROTOCOL', `campaign for ${target.election} returned without this session leading`);
    }
    return { name: electionLockName(target.election), mode: 'exclusive', token: leader.token, sessionId: this.id };
  }

  /** Hands out a granted lock, once the local lease says the session is safe. */
  private async adopt(target: GrantTarget, sequencer: Sequencer): Promise<Lock> {
    this.poll();
    while (this.lease.state === 'jeopardy' && !this.closing) await this.nextSettle();
    this.assertOpen();
    const kind: LockKind = target.type === 'lock' ? { type: 'lock' } : { type: 'election', election: target.election };
    const lock = new Lock(this.lockHost, sequencer, kind);
    this.locks.set(lock.name, lock);
    return lock;
  }

  /**
   * After an acquire whose outcome is unknown was given up, make sure the session does not hold
   * (or later get) the lock unknowingly: release it, and while the session is still queued as a
   * waiter, retry a few times (the server's wait deadline removes the waiter soon).
   */
  private abandon(target: GrantTarget): void {
    const name = lockNameOf(target);
    void (async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        if (this.closing || this.lease.state === 'expired' || this.locks.has(name)) return;
        const again = await this.serial
          .run(async () => {
            try {
              await this.mutate((seq, signal) => this.callRelease(target, seq, signal));
              return false;
            } catch (err) {
              if (!(err instanceof NotHolderError)) return false;
            }
            const info = lockInfoFromWire(await this.ctx.router.call('Locks/Get', () => ({ name }), { timeoutMs: this.ctx.callTimeoutMs, signal: this.opsAbort.signal }));
            return info.waiters.some((w) => w.sessionId === this.id) || info.holders.some((h) => h.sessionId === this.id);
          })
          .catch(() => false);
        if (!again) return;
        await sleep(this.ctx.timers, this.ctx.waitMarginMs, this.opsAbort.signal).catch(noop);
      }
    })();
  }

  private async callRelease(target: ReleaseTarget, seq: string, signal: AbortSignal): Promise<void> {
    const sessionId = this.id.toString();
    if (target.type === 'lock') {
      await this.ctx.router.call('Locks/Release', () => ({ sessionId, requestSeq: seq, name: target.name }), { timeoutMs: this.ctx.callTimeoutMs, signal });
    } else {
      await this.ctx.router.call('Elections/Resign', () => ({ sessionId, requestSeq: seq, name: target.election }), { timeoutMs: this.ctx.callTimeoutMs, signal });
    }
  }

  // ---- lock host ----

  private async releaseLock(lock: Lock): Promise<void> {
    if (this.closing) return;
    if (this.lease.state === 'expired') throw new LockLostError(lock.name, 'expired');
    await this.serial.run(async () => {
      if (this.closing) return;
      if (this.lease.state === 'expired') throw new LockLostError(lock.name, 'expired');
      if (this.locks.get(lock.name) !== lock) return;
      let lost: LockLostError | undefined;
      try {
        const kind = lock.kind;
        const target: ReleaseTarget = kind.type === 'lock' ? { type: 'lock', name: lock.name } : { type: 'election', election: kind.election };
        await this.mutate((seq, signal) => this.callRelease(target, seq, signal));
      } catch (err) {
        // Nothing was released: the lock was already gone, which the caller must hear about.
        if (err instanceof NotHolderError) lost = new LockLostError(lock.name, 'not-held');
        else if (err instanceof SessionExpiredError || this.opsAbort.signal.reason instanceof SessionExpiredError) lost = new LockLostError(lock.name, 'expired');
        else if (!this.opsAbort.signal.aborted) throw err;
      }
      if (this.locks.get(lock.name) === lock) this.locks.delete(lock.name);
      if (lost) throw lost;
    });
  }

  private async setLockValue(lock: Lock, value: Value): Promise<void> {
    const buf = valueToWire(value);
    await this.serial.run(async () => {
      if (this.locks.get(lock.name) !== lock || !lock.held) {
        throw lock.signal.aborted ? (lock.signal.reason as Error) : new NotHolderError(`session ${this.id} does not hold ${lock.name}`);
      }
      const sessionId = this.id.toString();
      await this.mutate(async (seq, signal) => {
        const kind = lock.kind;
        if (kind.type === 'lock') {
          await this.ctx.router.call('Locks/SetValue', () => ({ sessionId, requestSeq: seq, name: lock.name, value: buf }), { timeoutMs: this.ctx.callTimeoutMs, signal });
        } else {
          await this.ctx.router.call('Elections/Proclaim', () => ({ sessionId, requestSeq: seq, name: kind.election, value: buf }), { timeoutMs: this.ctx.callTimeoutMs, signal });
        }
      });
    });
  }

  // ---- election host ----

  private async resign(election: string): Promise<void> {
    const held = this.locks.get(electionLockName(election));
    if (held) return held.release();
    if (this.closing || this.lease.state === 'expired') return;
    await this.serial.run(async () => {
      try {
        await this.mutate((seq, signal) => this.callRelease({ type: 'election', election }, seq, signal));
      } catch (err) {
        if (!(err instanceof NotHolderError)) throw err;
      }
    });
  }

  private async proclaim(election: string, value: Value): Promise<void> {
    const held = this.locks.get(electionLockName(election));
    if (!held) throw new NotHolderError(`session ${this.id} does not lead election ${election}`);
    await held.setValue(value);
  }

  private async leaderOf(election: string): Promise<LeaderInfo | null> {
    const res = await this.ctx.router.call('Elections/Leader', () => ({ name: election }), { timeoutMs: this.ctx.callTimeoutMs });
    return leaderFromWire(election, res);
  }

  private observeLeader(election: string, signal: AbortSignal | undefined): AsyncIterableIterator<LeaderInfo | null> {
    let last: { value: LeaderInfo | null } | undefined;
    const it = resumableStream(
      { transport: this.ctx.transport, timers: this.ctx.timers, plan: () => this.ctx.router.plan() },
      {
        method: 'Elections/Observe',
        request: () => ({ name: election }),
        accept: (msg) => {
          const leader = leaderFromWire(election, msg);
          if (last !== undefined && sameLeader(last.value, leader)) return [];
          last = { value: leader };
          return [leader];
        },
        ...(signal ? { signal } : {}),
      },
    );
    return this.ctx.track(it);
  }
}

