/** Public data types of the SDK. Ids and fencing tokens are `bigint` (decimal strings on the wire). */

/** How a lock is held: one exclusive holder, or any number of shared holders. */
export type LockMode = 'exclusive' | 'shared';

/** Proof of holding a lock (Chubby §2.4): pass it to a resource, which checks it or compares tokens. */
export interface Sequencer {
  readonly name: string;
  readonly mode: LockMode;
  /** The fencing token: the log index of the grant, strictly increasing across the cluster. */
  readonly token: bigint;
  readonly sessionId: bigint;
}

/** One holder of a lock. */
export interface LockHolder {
  readonly sessionId: bigint;
  readonly token: bigint;
}

/** One queued waiter of a lock, in FIFO order. */
export interface LockWaiter {
  readonly sessionId: bigint;
  readonly mode: LockMode;
}

/** The state of one lock as the server reports it. */
export interface LockInfo {
  readonly name: string;
  readonly held: boolean;
  readonly mode: LockMode;
  readonly holders: readonly LockHolder[];
  readonly value: Uint8Array;
  readonly waiters: readonly LockWaiter[];
  /** True while the lock is in lock-delay after its holder's session expired. */
  readonly inDelay: boolean;
}

/** One session as the server reports it. */
export interface SessionInfo {
  readonly sessionId: bigint;
  readonly client: string;
  readonly ttlMs: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly locks: readonly string[];
  /** True when keepalives have lapsed for a while (checkpointed by the leader). */
  readonly lapsed: boolean;
  /** The leader's wall clock when the session opened, ms since the epoch (informational). */
  readonly openedAtMs: number;
}

/** One member of the cluster. */
export interface MemberInfo {
  readonly id: string;
  readonly peerAddress: string;
  readonly clientAddress: string;
  readonly learner: boolean;
}

/** One node's view of the cluster. */
export interface NodeStatus {
  readonly id: string;
  readonly role: string;
  readonly term: bigint;
  readonly commitIndex: bigint;
  readonly appliedIndex: bigint;
  /** The leader's id, or null when this node knows none. */
  readonly leader: string | null;
  readonly leaderClientAddress: string | null;
  readonly clientAddress: string;
  readonly clusterId: string;
  readonly members: readonly MemberInfo[];
  /** The endpoint that answered. */
  readonly endpoint: string;
}

/** The holder of an election. */
export interface LeaderInfo {
  readonly name: string;
  readonly sessionId: bigint;
  readonly token: bigint;
  readonly value: Uint8Array;
}

/** The kinds of watch events. */
export const WATCH_EVENT_TYPES = [
  'session-opened',
  'session-closed',
  'session-expired',
  'acquired',
  'released',
  'expired',
  'delay-ended',
  'value-set',
  'wait-timeout',
] as const;

/** A watch event kind. */
export type WatchEventType = (typeof WATCH_EVENT_TYPES)[number];

/** One event from `LatchClient.watch`, in log order. */
export interface WatchEvent {
  /** The log index of the entry that caused it; resume a watch from `index + 1n`. */
  readonly index: bigint;
  readonly type: WatchEventType;
  /** The lock name, or '' for session events. */
  readonly name: string;
  readonly sessionId: bigint;
  /** The fencing token, or null when the event has none. */
  readonly token: bigint | null;
  readonly mode: LockMode;
  /** The leader's wall clock at the entry, ms since the epoch (informational). */
  readonly atMs: number;
}

/** A lock value or election value: bytes, or a string sent as UTF-8. */
export type Value = Uint8Array | string;
