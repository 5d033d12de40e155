/**
 * The data that crosses the lock state machine's boundary: commands in; results, effects and events
 * out; snapshots both ways. All plain data (objects, arrays, strings, numbers, Uint8Array) so the
 * server can encode it with the one msgpackr codec. Session ids, waiter ids and fencing tokens are
 * log indexes (`number`, see src/common/ids.ts).
 */
import type { ErrorCode } from '../common/index.js';

/** How a lock is held. */
export type LockMode = 'exclusive' | 'shared';

/** Stamped by the leader into each entry; `at` is wall-clock ms, informational only (never a safety decision). */
export interface ApplyMeta {
  readonly index: number;
  readonly term: number;
  readonly at: number;
}

/** Operator-facing session metadata (≤ 32 string entries, ≤ 4 KiB). */
export type SessionMeta = Readonly<Record<string, string>>;

/** Opens a session; its id is the entry's index. The server clamps `ttlMs` first; apply enforces 1 s … 1 h. */
export interface OpenSessionCommand {
  readonly type: 'open-session';
  readonly ttlMs: number;
  readonly client: string;
  readonly meta?: SessionMeta;
  /** The authenticated identity that opens it; only that identity may use the session. Absent: no owner (no auth). */
  readonly owner?: string;
}

/** Client closes its session: its locks are released without lock-delay and its waiters removed. */
export interface CloseSessionCommand {
  readonly type: 'close-session';
  readonly sessionId: number;
  readonly seq: number;
  /** The authenticated identity making the call (see OpenSessionCommand.owner). */
  readonly caller?: string;
}

/**
 * Leader-proposed when a session's deadline passes: its waiters are removed and each lock it held enters
 * lock-delay `lockDelayMs` (0 = none), even if other shared holders remain: no new grants until `end-lock-delay`.
 */
export interface ExpireSessionCommand {
  readonly type: 'expire-session';
  readonly sessionId: number;
  readonly lockDelayMs: number;
}

/**
 * Leader-proposed when the deadlines of several sessions have passed: each one still open is
 * expired exactly as by `expire-session` (in list order); the others are skipped. One entry for a
 * batch of expiries (a client process with many sessions died), not one entry each.
 */
export interface ExpireSessionsCommand {
  readonly type: 'expire-sessions';
  readonly sessionIds: readonly number[];
  readonly lockDelayMs: number;
}

/** Leader-proposed: marks each listed session lapsed with its remaining lease `[sessionId, remainingMs]` (DESIGN §3). */
export interface CheckpointSessionsCommand {
  readonly type: 'checkpoint-sessions';
  readonly sessions: readonly (readonly [number, number])[];
}

/** Leader-proposed before it acknowledges a keepalive of a lapsed session: clears `lapsed`. */
export interface RenewSessionCommand {
  readonly type: 'renew-session';
  readonly sessionId: number;
}

/**
 * Acquire `name` in `mode`; `waitMs` 0 is a try-acquire, otherwise the caller joins the FIFO queue (a
 * session already queued for the lock keeps its place). `value`, if given, becomes the lock's value when
 * granted (last writer wins among shared holders; a holder's re-acquire replaces it).
 */
export interface AcquireCommand {
  readonly type: 'acquire';
  readonly sessionId: number;
  readonly seq: number;
  readonly name: string;
  readonly mode: LockMode;
  readonly waitMs: number;
  readonly value?: Uint8Array;
  /** The authenticated identity making the call (see OpenSessionCommand.owner). */
  readonly caller?: string;
}

/** Release a lock held by the session (no lock-delay). */
export interface ReleaseCommand {
  readonly type: 'release';
  readonly sessionId: number;
  readonly seq: number;
  readonly name: string;
  /** The authenticated identity making the call (see OpenSessionCommand.owner). */
  readonly caller?: string;
}

/** Replace the value of a lock the session holds (election Proclaim). */
export interface SetValueCommand {
  readonly type: 'set-value';
  readonly sessionId: number;
  readonly seq: number;
  readonly name: string;
  readonly value: Uint8Array;
  /** The authenticated identity making the call (see OpenSessionCommand.owner). */
  readonly caller?: string;
}

/** Leader-proposed when a waiter's deadline passes; a no-op if it was granted or is gone. */
export interface CancelWaitCommand {
  readonly type: 'cancel-wait';
  readonly waiterId: number;
}

/**
 * Leader-proposed when a lock-delay runs out. `since` (the index that started the delay, from the
 * `lock-delay` effect) makes a late timer harmless: it ends only the delay it was armed for.
 */
export interface EndLockDelayCommand {
  readonly type: 'end-lock-delay';
  readonly name: string;
  readonly since?: number;
}

/** Every command the lock state machine applies. */
export type LockCommand =
  | OpenSessionCommand
  | CloseSessionCommand
  | ExpireSessionCommand
  | ExpireSessionsCommand
  | CheckpointSessionsCommand
  | RenewSessionCommand
  | AcquireCommand
  | ReleaseCommand
  | SetValueCommand
  | CancelWaitCommand
  | EndLockDelayCommand;

/** A command's `type`. */
export type LockCommandType = LockCommand['type'];

/** A refused command: a registry code and a message naming the session, lock or limit. */
export interface LockFailure {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

/** The lock was granted: now (`alreadyHeld` false), or earlier to the same session in the same mode. */
export interface AcquireGranted {
  readonly ok: true;
  readonly type: 'acquire';
  readonly status: 'granted';
  readonly name: string;
  readonly mode: LockMode;
  readonly sessionId: number;
  /** Fencing token: the index of the entry whose apply granted the lock. */
  readonly token: number;
  readonly alreadyHeld: boolean;
}

/** The caller joined (or is still in) the lock's FIFO queue as `waiterId`. */
export interface AcquireQueued {
  readonly ok: true;
  readonly type: 'acquire';
  readonly status: 'queued';
  readonly name: string;
  readonly mode: LockMode;
  readonly sessionId: number;
  readonly waiterId: number;
}

/** A successful result; `type` is the command's type. */
export type LockSuccess =
  | { readonly ok: true; readonly type: 'open-session'; readonly sessionId: number; readonly ttlMs: number }
  | { readonly ok: true; readonly type: 'close-session'; readonly sessionId: number; readonly released: readonly string[] }
  | { readonly ok: true; readonly type: 'expire-session'; readonly sessionId: number; readonly released: readonly string[] }
  | { readonly ok: true; readonly type: 'expire-sessions'; readonly expired: readonly number[] }
  | { readonly ok: true; readonly type: 'checkpoint-sessions'; readonly updated: number }
  | { readonly ok: true; readonly type: 'renew-session'; readonly sessionId: number; readonly wasLapsed: boolean }
  | AcquireGranted
  | AcquireQueued
  | { readonly ok: true; readonly type: 'release'; readonly name: string; readonly token: number }
  | { readonly ok: true; readonly type: 'set-value'; readonly name: string }
  | { readonly ok: true; readonly type: 'cancel-wait'; readonly waiterId: number; readonly cancelled: boolean }
  | { readonly ok: true; readonly type: 'end-lock-delay'; readonly name: string; readonly ended: boolean };

/** What `apply` answers the proposer. */
export type LockResult = LockSuccess | LockFailure;

/** Why a session ended. */
export type SessionEndReason = 'closed' | 'expired';

/**
 * Work for the leader (only the leader runs effects; they may be repeated after a failover, so running
 * one twice must be harmless: timers are keyed by `waiterId` / `name` and replaced).
 */
export type LockEffect =
  /** Arm a timer for `waitMs`; when it fires propose `cancel-wait { waiterId }`. */
  | { readonly type: 'wait-deadline'; readonly waiterId: number; readonly waitMs: number }
  /** Arm a timer for `delayMs`; when it fires propose `end-lock-delay { name, since }`. */
  | { readonly type: 'lock-delay'; readonly name: string; readonly delayMs: number; readonly since: number }
  /** Start tracking the session's lease (LeaseTracker.opened). */
  | { readonly type: 'session-opened'; readonly sessionId: number; readonly ttlMs: number }
  /** Stop tracking the session's lease (LeaseTracker.ended); fail its blocked calls. */
  | { readonly type: 'session-ended'; readonly sessionId: number; readonly reason: SessionEndReason }
  /** A queued waiter was granted: complete its blocked acquire. */
  | {
      readonly type: 'granted';
      readonly waiterId: number;
      readonly sessionId: number;
      readonly name: string;
      readonly mode: LockMode;
      readonly token: number;
    }
  /** A queued waiter left without a grant (`WAIT_TIMEOUT`, `SESSION_NOT_FOUND` on close, `SESSION_EXPIRED`). */
  | { readonly type: 'wait-ended'; readonly waiterId: number; readonly sessionId: number; readonly name: string; readonly code: ErrorCode };

/** The kinds of Watch events. */
export type LockEventType =
  | 'session-opened'
  | 'session-closed'
  | 'session-expired'
  | 'acquired'
  | 'released'
  | 'expired'
  | 'delay-ended'
  | 'value-set'
  | 'wait-timeout';

/** One Watch event; session events carry no `name`. `delay-ended` names the session whose expiry began the delay. */
export interface LockEvent {
  readonly index: number;
  readonly at: number;
  readonly type: LockEventType;
  readonly sessionId: number;
  readonly name?: string;
  readonly token?: number;
  readonly mode?: LockMode;
}

/** What one `apply` produced. */
export interface ApplyOutput {
  readonly result: LockResult;
  readonly effects: readonly LockEffect[];
  readonly events: readonly LockEvent[];
}

/** Tuning that must be identical on every node (it changes results); carried in snapshots. */
export interface LockConfig {
  /** Most waiters per lock before `TOO_MANY_WAITERS`. Default 1000. */
  readonly maxWaitersPerLock: number;
  /** Watch events retained. Default 10 000. */
  readonly eventRingSize: number;
  /** Ended sessions remembered (for `SESSION_EXPIRED` answers and close retries). Default 10 000. */
  readonly endedSessionMemory: number;
}

/** A sequencer (Chubby §2.4): proof of a hold that a resource can check. */
export interface Sequencer {
  readonly name: string;
  readonly mode: LockMode;
  readonly token: number;
  readonly sessionId: number;
}

/** One holder of a lock. */
export interface HolderInfo {
  readonly sessionId: number;
  readonly token: number;
  readonly grantedAt: number;
}

/** One queued waiter. */
export interface WaiterInfo {
  readonly waiterId: number;
  readonly sessionId: number;
  readonly mode: LockMode;
  readonly waitMs: number;
  readonly queuedAt: number;
}

/** A lock-delay in force: no grants until `end-lock-delay`. */
export interface DelayInfo {
  /** Index of the `expire-session` entry that began it. */
  readonly since: number;
  /** The session whose expiry began it. */
  readonly sessionId: number;
  readonly delayMs: number;
  /** Leader wall-clock ms when it began (informational). */
  readonly at: number;
}

/**
 * A lock as queries show it. `mode` is null when nobody holds it (it may still have waiters or a delay);
 * `value` is cleared when the last holder leaves.
 */
export interface LockInfo {
  readonly name: string;
  readonly mode: LockMode | null;
  readonly holders: readonly HolderInfo[];
  readonly value: Uint8Array | null;
  readonly waiters: readonly WaiterInfo[];
  readonly inDelay: boolean;
  readonly delay: DelayInfo | null;
  /** Wall-clock ms the delay is expected to end (`delay.at + delay.delayMs`; informational), or null. */
  readonly delayUntil: number | null;
}

/** A session as queries show it. */
export interface SessionInfo {
  readonly id: number;
  readonly ttlMs: number;
  readonly client: string;
  /** The identity that opened it ('' = none); only it may use the session. */
  readonly owner: string;
  readonly meta: SessionMeta;
  readonly openedAt: number;
  /** True when the log holds a checkpointed remaining lease for it (from open until the first renew). */
  readonly lapsed: boolean;
  readonly remainingMs: number | null;
  /** Index of the entry that set `remainingMs` (its open or a checkpoint), or null when not lapsed. */
  readonly checkpointIndex: number | null;
  readonly holds: readonly string[];
  readonly waits: readonly number[];
  readonly lastSeq: number;
}

/** A session's lease state as recorded in the log: input for LeaseTracker.becomeLeader. */
export interface SessionLease {
  readonly id: number;
  readonly ttlMs: number;
  readonly lapsed: boolean;
  readonly remainingMs: number | null;
  readonly checkpointIndex: number | null;
}

/** Answer of `eventsSince`. */
export type EventsSinceResult =
  | { readonly ok: true; readonly events: readonly LockEvent[] }
  | { readonly ok: false; readonly code: 'WATCH_COMPACTED' | 'INVALID_ARGUMENT'; readonly message: string };
