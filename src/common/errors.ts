/**
 * The one registry of Latch error codes. Each code maps to exactly one gRPC status
 * (numeric, per grpc/status.proto) so that no inner layer needs to import gRPC.
 * docs/errors table in README.md is kept in sync with this by a test.
 */

/** gRPC status codes used by Latch (values from grpc's status.proto). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status name. */
export type GrpcStatusName = keyof typeof GrpcStatus;

/** Every stable Latch error code, with its gRPC status and a one-line meaning. */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { status: 'INVALID_ARGUMENT', meaning: 'a request field is malformed or out of range' },
  NOT_LEADER: { status: 'UNAVAILABLE', meaning: 'this node is not the leader; nothing happened; retry at the hinted leader' },
  NO_QUORUM: { status: 'UNAVAILABLE', meaning: 'the cluster has no leader or quorum right now; nothing happened' },
  LEADERSHIP_LOST: { status: 'UNAVAILABLE', meaning: 'leadership changed while the request was in flight; outcome unknown, retry with the same requestSeq' },
  PROPOSAL_DROPPED: { status: 'UNAVAILABLE', meaning: 'the proposal was refused by the Raft core (e.g. transfer in progress); nothing happened' },
  SESSION_NOT_FOUND: { status: 'NOT_FOUND', meaning: 'the session is unknown or has expired' },
  SESSION_EXPIRED: { status: 'NOT_FOUND', meaning: 'the session has expired' },
  NOT_HOLDER: { status: 'FAILED_PRECONDITION', meaning: 'the caller does not hold this lock' },
  UPGRADE_REFUSED: { status: 'FAILED_PRECONDITION', meaning: 'a shared hold cannot be upgraded to exclusive; release it first' },
  STALE_REQUEST: { status: 'FAILED_PRECONDITION', meaning: 'requestSeq is older than the last one seen for this session' },
  LOCK_HELD: { status: 'ABORTED', meaning: 'try-acquire found the lock held' },
  WAIT_TIMEOUT: { status: 'DEADLINE_EXCEEDED', meaning: 'the wait deadline passed before the lock was granted' },
  STALE_SEQUENCER: { status: 'FAILED_PRECONDITION', meaning: 'the sequencer is no longer current' },
  TOO_MANY_WAITERS: { status: 'RESOURCE_EXHAUSTED', meaning: 'the lock already has the maximum number of waiters' },
  TOO_MANY_SESSIONS: { status: 'RESOURCE_EXHAUSTED', meaning: 'this connection already has the maximum number of sessions' },
  MESSAGE_TOO_LARGE: { status: 'RESOURCE_EXHAUSTED', meaning: 'the request exceeds the maximum message size' },
  WATCH_COMPACTED: { status: 'OUT_OF_RANGE', meaning: 'the requested watch index is older than the retained event ring; resync' },
  UNAUTHENTICATED: { status: 'UNAUTHENTICATED', meaning: 'no valid bearer token was presented' },
  PERMISSION_DENIED: { status: 'PERMISSION_DENIED', meaning: 'the token lacks the role for this name prefix, or the session belongs to another identity' },
  STORAGE_FATAL: { status: 'INTERNAL', meaning: 'the data directory is unreadable or corrupt; the node stops rather than reset' },
  CONFIG_INVALID: { status: 'INVALID_ARGUMENT', meaning: 'a configuration field is invalid' },
  CLUSTER_MISMATCH: { status: 'PERMISSION_DENIED', meaning: 'a peer message came from another cluster or an unknown node' },
  CONF_CHANGE_IN_PROGRESS: { status: 'FAILED_PRECONDITION', meaning: 'another membership change is not yet committed' },
  SHUTTING_DOWN: { status: 'UNAVAILABLE', meaning: 'the node is shutting down' },
  OVERLOADED: { status: 'RESOURCE_EXHAUSTED', meaning: 'the leader has too many proposals in flight; nothing happened; retry after the hinted delay (latch-retry-after-ms)' },
} as const satisfies Record<string, { status: GrpcStatusName; meaning: string }>;

/** A stable Latch error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The base of every Latch error: a stable `code` and its gRPC status. */
export class LatchError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LatchError';
  }
  /** The gRPC status name this error maps to. */
  get status(): GrpcStatusName {
    return ERROR_CODES[this.code].status;
  }
  /** The numeric gRPC status code this error maps to. */
  get grpcCode(): number {
    return GrpcStatus[this.status];
  }
}

/** Not the leader: nothing happened. Carries the known leader, if any. */
export class NotLeaderError extends LatchError {
  constructor(
    readonly leaderId: string | null,
    readonly leaderAddress: string | null = null,
  ) {
    super('NOT_LEADER', leaderId ? `not the leader; the leader is ${leaderId}${leaderAddress ? ` at ${leaderAddress}` : ''}` : 'not the leader and no leader is known; retry shortly');
    this.name = 'NotLeaderError';
  }
}

/** Leadership was lost with the request in flight: the outcome is unknown. */
export class LeadershipLostError extends LatchError {
  constructor(message = 'leadership changed before the request committed; outcome unknown, retry with the same requestSeq') {
    super('LEADERSHIP_LOST', message);
    this.name = 'LeadershipLostError';
  }
}

/** The leader refused a proposal because too many are in flight; nothing happened. Retry after `retryAfterMs`. */
export class OverloadedError extends LatchError {
  constructor(
    readonly retryAfterMs: number,
    message = `the leader has too many proposals in flight; nothing happened; retry in ${retryAfterMs} ms`,
  ) {
    super('OVERLOADED', message);
    this.name = 'OverloadedError';
  }
}

/** The data directory cannot be used; never silently reset. */
export class StorageFatalError extends LatchError {
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super('STORAGE_FATAL', `${message} (data dir: ${path})`, options);
    this.name = 'StorageFatalError';
  }
}

/** A configuration field is invalid; names the field. */
export class ConfigError extends LatchError {
  constructor(readonly field: string, message: string) {
    super('CONFIG_INVALID', `invalid config ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** True when `e` is a LatchError (optionally with the given code). */
export function isLatchError(e: unknown, code?: ErrorCode): e is LatchError {
  return e instanceof LatchError && (code === undefined || e.code === code);
}
