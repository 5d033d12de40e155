/**
 * The SDK's errors. Answers from the server keep their stable Latch code (`LatchError` and the
 * subclasses below); conditions only the client can see (no endpoint answered, a lock that may be
 * lost, a closed session) are `LatchClientError`s with their own codes.
 */
import { assertNever } from '../common/assert.js';
import { LatchError } from '../common/errors.js';

/** Try-acquire found the lock held, or this session already holds it (`LOCK_HELD`). */
export class LockHeldError extends LatchError {
  constructor(message: string) {
    super('LOCK_HELD', message);
    this.name = 'LockHeldError';
  }
}

/** The wait for a lock or a campaign ran out before it was granted (`WAIT_TIMEOUT`). */
export class WaitTimeoutError extends LatchError {
  constructor(message: string) {
    super('WAIT_TIMEOUT', message);
    this.name = 'WaitTimeoutError';
  }
}

/** The session is unknown to the cluster or has expired (`SESSION_EXPIRED` / `SESSION_NOT_FOUND`). */
export class SessionExpiredError extends LatchError {
  constructor(message: string, code: 'SESSION_EXPIRED' | 'SESSION_NOT_FOUND' = 'SESSION_EXPIRED') {
    super(code, message);
    this.name = 'SessionExpiredError';
  }
}

/** The session does not hold the lock it tried to release or update (`NOT_HOLDER`). */
export class NotHolderError extends LatchError {
  constructor(message: string) {
    super('NOT_HOLDER', message);
    this.name = 'NotHolderError';
  }
}

/** A request field is malformed (`INVALID_ARGUMENT`); raised by the SDK before sending, or by the server. */
export class InvalidArgumentError extends LatchError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'InvalidArgumentError';
  }
}

/** A watch asked for events older than the server still keeps (`WATCH_COMPACTED`): resync and watch again. */
export class WatchCompactedError extends LatchError {
  constructor(message: string) {
    super('WATCH_COMPACTED', message);
    this.name = 'WatchCompactedError';
  }
}

/** Codes of conditions only the client observes (no registry entry, never sent by a server). */
export const CLIENT_ERROR_CODES = {
  UNAVAILABLE: 'no endpoint gave an answer before the deadline (see `outcomeUnknown` and `cause`)',
  DEADLINE_EXCEEDED: 'the call deadline passed without an answer; the outcome is unknown',
  CANCELLED: 'the caller aborted the operation',
  LOCK_LOST: 'a lock may no longer be held: released, session in jeopardy, expired or closed',
  SESSION_CLOSED: 'the session was closed by this client',
  CLIENT_CLOSED: 'the client was closed',
  PROTOCOL: 'the server sent a malformed or unexpected answer',
  UNKNOWN: 'the server failed with an error that carries no Latch code',
} as const;

/** A client-side error code. */
export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/** An error raised by the SDK itself; `grpcCode` is the gRPC status when one was seen. */
export class LatchClientError extends Error {
  readonly code: ClientErrorCode;
  readonly grpcCode: number | undefined;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown; grpcCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.grpcCode = options?.grpcCode;
    this.name = 'LatchClientError';
  }
}

/** No endpoint answered in time. `outcomeUnknown` is true when a mutating request may have taken effect. */
export class UnavailableError extends LatchClientError {
  constructor(
    message: string,
    readonly outcomeUnknown: boolean,
    options?: { cause?: unknown; grpcCode?: number; code?: 'UNAVAILABLE' | 'DEADLINE_EXCEEDED' },
  ) {
    super(options?.code ?? 'UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
  }
}

/** Why a lock's signal fired. */
/**
 * Why a lock may no longer be held: released by the application; the local lease ran out
 * (jeopardy); the session expired; the session was closed; or, found out by `release()`, the
 * server no longer had the lock for this session (`not-held`: it was lost before the release).
 */
export type LockLossReason = 'released' | 'jeopardy' | 'expired' | 'session-closed' | 'not-held';

/** The reason carried by a lock's AbortSignal: the lock may no longer be held. */
export class LockLostError extends LatchClientError {
  constructor(
    readonly lockName: string,
    readonly reason: LockLossReason,
  ) {
    super('LOCK_LOST', lockLossMessage(lockName, reason));
    this.name = 'LockLostError';
  }
}

function lockLossMessage(name: string, reason: LockLossReason): string {
  switch (reason) {
    case 'released':
      return `lock ${name} was released`;
    case 'jeopardy':
      return `lock ${name} may be lost: the session's local lease ran out (jeopardy)`;
    case 'expired':
      return `lock ${name} is lost: the session expired`;
    case 'session-closed':
      return `lock ${name} is lost: the session was closed`;
    case 'not-held':
      return `lock ${name} was already lost when released: the server no longer had it for this session, so another holder may have had it meanwhile`;
    default:
      return assertNever(reason, 'lock loss reason');
  }
}

/** True when `e` is a client-side error (optionally with the given code). */
export function isLatchClientError(e: unknown, code?: ClientErrorCode): e is LatchClientError {
  return e instanceof LatchClientError && (code === undefined || e.code === code);
}
