/**
 * A held lock (or election leadership) of a session.
 *
 * Its `signal` fires when the lock may no longer be held: on release, when the session's local
 * lease runs out (jeopardy), when the session expires or is closed. Once fired it stays fired and
 * `held` stays false, even if the session later turns out to have survived: the SDK never reports
 * a lock as held after its local lease ran out (the session gives such locks back to the server
 * when it becomes safe again; acquire anew to continue).
 */
import { LockLostError, type LockLossReason } from './errors.js';
import type { LockMode, Sequencer, Value } from './types.js';

/** What a Lock needs from its session. Internal to the SDK. */
export interface LockHost {
  /** Applies due lease transitions now (which may fire this lock's signal). */
  poll(): void;
  /** Gives the lock back to the server; resolves once it is not held (or the session is gone). */
  release(lock: Lock): Promise<void>;
  /** Updates the lock's value (or the election's proclaimed value). */
  setValue(lock: Lock, value: Value): Promise<void>;
}

/** What backs a lock: a plain lock, or the lock behind an election campaign. */
export type LockKind = { readonly type: 'lock' } | { readonly type: 'election'; readonly election: string };

/** Fires a lock's signal; internal to the SDK (not exported from the barrel). */
export const markLost: unique symbol = Symbol('latch.markLost');

/** A lock held by a session; see the file comment for when it stops being held. */
export class Lock implements AsyncDisposable {
  /** The lock's name (for an election, `election/<name>`). */
  readonly name: string;
  readonly mode: LockMode;
  /** The fencing token: strictly increasing across the cluster for every grant. */
  readonly token: bigint;
  readonly sessionId: bigint;
  /** Everything a resource needs to check this hold: `{ name, mode, token, sessionId }`. */
  readonly sequencer: Sequencer;
  /** Whether this is a plain lock or an election's leadership. */
  readonly kind: LockKind;
  private readonly controller = new AbortController();
  private releasing: Promise<void> | undefined;

  /** Internal: made by Session, never by applications. */
  constructor(
    private readonly host: LockHost,
    sequencer: Sequencer,
    kind: LockKind,
  ) {
    this.sequencer = Object.freeze({ ...sequencer });
    this.name = sequencer.name;
    this.mode = sequencer.mode;
    this.token = sequencer.token;
    this.sessionId = sequencer.sessionId;
    this.kind = kind;
  }

  /** Fires when the lock may be lost; its reason is a LockLostError. */
  get signal(): AbortSignal {
    this.host.poll();
    return this.controller.signal;
  }

  /** True until the signal fires (checked against the clock at each read). */
  get held(): boolean {
    this.host.poll();
    return !this.controller.signal.aborted;
  }

  /** Throws the signal's LockLostError when the lock may be lost; a cheap guard before touching the resource. */
  throwIfLost(): void {
    this.host.poll();
    this.controller.signal.throwIfAborted();
  }

  /**
   * Releases the lock. Rejects with LockLostError when there was nothing left to release: the
   * session expired (`expired`) or the server no longer had the lock for this session
   * (`not-held`), so the application must not assume it held the lock until now. Idempotent:
   * later calls return the same promise (or retry after a transient failure).
   */
  release(): Promise<void> {
    if (!this.releasing) {
      this[markLost]('released');
      const p = this.host.release(this);
      this.releasing = p;
      p.catch((err: unknown) => {
        if (this.releasing === p && !(err instanceof LockLostError)) this.releasing = undefined;
      });
    }
    return this.releasing;
  }

  /** Sets the lock's value (≤ 4 KiB); for election leadership this proclaims a new value. */
  setValue(value: Value): Promise<void> {
    return this.host.setValue(this, value);
  }

  /** Releases the lock (`await using lock = await session.lock(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** Internal: fires the signal with `reason` unless it already fired. */
  [markLost](reason: LockLossReason): void {
    if (!this.controller.signal.aborted) this.controller.abort(new LockLostError(this.name, reason));
  }
}
