/**
 * The lock state machine's internal, mutable records (never handed out: queries and snapshots copy
 * them into the plain shapes of types.ts and snapshot.ts).
 */
import type { EventRing } from './event-ring.js';
import type { DelayInfo, LockConfig, LockMode, LockResult, SessionEndReason, SessionMeta } from './types.js';

/** An open session. `holds` and `waits` are derived indexes over locks and waiters. */
export interface SessionRec {
  readonly id: number;
  readonly ttlMs: number;
  readonly client: string;
  /** The authenticated identity that opened it ('' = none: no authentication). */
  readonly owner: string;
  readonly meta: SessionMeta;
  readonly openedAt: number;
  lapsed: boolean;
  remainingMs: number | null;
  checkpointIndex: number | null;
  /** Exactly-once table: the last request seq executed for this session and its result. */
  lastSeq: number;
  lastResult: LockResult | null;
  readonly holds: Set<string>;
  readonly waits: Set<number>;
}

/** One hold of a lock. */
export interface HolderRec {
  readonly sessionId: number;
  readonly token: number;
  readonly at: number;
}

/** A queued acquire; `seq` is the request whose cached result its grant or cancel completes. */
export interface WaiterRec {
  readonly waiterId: number;
  readonly sessionId: number;
  readonly name: string;
  readonly mode: LockMode;
  seq: number;
  waitMs: number;
  value: Uint8Array | null;
  readonly at: number;
}

/**
 * A lock. Invariants: `mode` is null iff `holders` is empty; an exclusive lock has one holder; a
 * lock with no holders, no queue and no delay does not exist; unless in delay, the queue head is
 * never grantable (grants happen as soon as they can).
 */
export interface LockRec {
  readonly name: string;
  mode: LockMode | null;
  readonly holders: Map<number, HolderRec>;
  value: Uint8Array | null;
  readonly queue: number[];
  delay: DelayInfo | null;
}

/** A remembered ended session (bounded memory) so late requests get a precise answer. */
export interface EndedRec {
  readonly sessionId: number;
  readonly reason: SessionEndReason;
  readonly index: number;
  readonly at: number;
  /** For a close: its seq and result, so a retried close gets the same answer. */
  readonly closeSeq: number | null;
  readonly closeResult: LockResult | null;
}

/** A fresh copy of `bytes` (so callers never share a buffer with the machine). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** A deep copy of plain data (objects, arrays, Uint8Array, primitives). */
export function clonePlain<T>(x: T): T {
  if (x instanceof Uint8Array) return copyBytes(x) as T;
  if (Array.isArray(x)) return x.map((v: unknown) => clonePlain(v)) as T;
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = clonePlain(v);
    return out as T;
  }
  return x;
}

/** Everything the machine holds; snapshot.ts converts it to and from plain data. */
export interface MachineState {
  readonly config: LockConfig;
  applied: number;
  lastToken: number;
  readonly sessions: Map<number, SessionRec>;
  readonly locks: Map<string, LockRec>;
  readonly waiters: Map<number, WaiterRec>;
  readonly ended: Map<number, EndedRec>;
  readonly ring: EventRing;
}
