/**
 * From a gRPC status (code, details, trailing metadata) to a typed error, and the retry class of
 * every error the SDK can see. The server puts the stable Latch code in `latch-code` and, on
 * UNAVAILABLE from a follower, the leader's client address in `latch-leader` (DESIGN §5).
 */
import type { Metadata } from '@grpc/grpc-js';
import { ERROR_CODES, GrpcStatus, LatchError, LeadershipLostError, NotLeaderError, OverloadedError, type ErrorCode } from '../common/errors.js';
import {
  InvalidArgumentError,
  LatchClientError,
  LockHeldError,
  NotHolderError,
  SessionExpiredError,
  UnavailableError,
  WaitTimeoutError,
  WatchCompactedError,
} from './errors.js';
import type { WireCallError } from './wire.js';

/** Trailing metadata key of the stable Latch error code. */
export const LATCH_CODE_KEY = 'latch-code';
/** Trailing metadata key of the leader's client address. */
export const LATCH_LEADER_KEY = 'latch-leader';
/** Trailer key of the OVERLOADED retry-after hint (ms). */
export const LATCH_RETRY_AFTER_KEY = 'latch-retry-after-ms';

/** The parts of a gRPC status the mapping reads. */
export interface RpcStatusLike {
  readonly code: number;
  readonly details?: string;
  readonly metadata?: Metadata;
}

const leaderHints = new WeakMap<object, string>();

/** The `latch-leader` hint that came with the error `e`, if any. */
export function leaderHintOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? leaderHints.get(e) : undefined;
}

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** True when `s` looks like `host:port` with a port in 1..65535. */
export function isHostPort(s: string): boolean {
  const m = HOST_PORT.exec(s);
  if (!m) return false;
  const port = Number(m[1]);
  return port >= 1 && port <= 65535;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

function firstString(md: Metadata | undefined, key: string): string | undefined {
  const v = md?.get(key)[0];
  if (v === undefined) return undefined;
  return nonEmpty(typeof v === 'string' ? v : v.toString('utf8'));
}

function statusName(code: number): string {
  for (const [name, value] of Object.entries(GrpcStatus)) if (value === code) return name;
  return `code ${code}`;
}

function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(ERROR_CODES, s);
}

/** A typed error for a Latch code, keeping the server's message. */
function latchErrorFor(code: ErrorCode, message: string, hint: string | undefined): LatchError {
  switch (code) {
    case 'LOCK_HELD':
      return new LockHeldError(message);
    case 'WAIT_TIMEOUT':
      return new WaitTimeoutError(message);
    case 'SESSION_EXPIRED':
    case 'SESSION_NOT_FOUND':
      return new SessionExpiredError(message, code);
    case 'NOT_HOLDER':
      return new NotHolderError(message);
    case 'INVALID_ARGUMENT':
      return new InvalidArgumentError(message);
    case 'WATCH_COMPACTED':
      return new WatchCompactedError(message);
    case 'LEADERSHIP_LOST':
      return new LeadershipLostError(message);
    case 'NOT_LEADER': {
      const e = new NotLeaderError(null, hint ?? null);
      e.message = message;
      return e;
    }
    default:
      return new LatchError(code, message);
  }
}

/**
 * The typed error for a failed call: a LatchError (or subclass) when the server sent a known
 * `latch-code`, else a LatchClientError carrying the gRPC status (UNAVAILABLE and DEADLINE_EXCEEDED
 * become UnavailableError with `outcomeUnknown` set, since a transport failure says nothing about
 * whether the request took effect). The leader hint is kept for `leaderHintOf`.
 */
export function errorFromStatus(status: RpcStatusLike): Error {
  return errorFromParts(
    status.code,
    status.details,
    firstString(status.metadata, LATCH_CODE_KEY),
    firstString(status.metadata, LATCH_LEADER_KEY),
    retryAfter(firstString(status.metadata, LATCH_RETRY_AFTER_KEY)),
  );
}

/** A retry-after hint (ms) from the wire, or undefined when absent, zero or malformed. */
function retryAfter(v: string | number | undefined): number | undefined {
  const n = typeof v === 'number' ? v : v !== undefined && /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 60_000) : undefined;
}

/**
 * The typed error for a failed `Locks.Stream` call: its CallError carries the status code, details,
 * `latch-code` and `latch-leader` a unary call would have carried, and maps exactly as they would.
 */
export function errorFromCallError(e: WireCallError): Error {
  return errorFromParts(e.grpcCode, e.message, nonEmpty(e.latchCode), nonEmpty(e.leader), retryAfter(e.retryAfterMs));
}

/** The one mapping behind errorFromStatus and errorFromCallError. */
function errorFromParts(grpcCode: number, rawDetails: string | undefined, code: string | undefined, rawHint: string | undefined, retryAfterMs?: number): Error {
  const details = rawDetails && rawDetails.length > 0 ? rawDetails : statusName(grpcCode);
  const hint = rawHint !== undefined && isHostPort(rawHint) ? rawHint : undefined;
  let err: Error;
  if (code === 'OVERLOADED') {
    err = new OverloadedError(retryAfterMs ?? DEFAULT_RETRY_AFTER_MS, details);
  } else if (code !== undefined && isErrorCode(code)) {
    err = latchErrorFor(code, details, hint);
  } else if (grpcCode === GrpcStatus.UNAVAILABLE) {
    err = new UnavailableError(`unavailable: ${details}`, true, { grpcCode });
  } else if (grpcCode === GrpcStatus.DEADLINE_EXCEEDED) {
    err = new UnavailableError(`deadline exceeded: ${details}`, true, { grpcCode, code: 'DEADLINE_EXCEEDED' });
  } else if (grpcCode === GrpcStatus.CANCELLED) {
    err = new LatchClientError('CANCELLED', `cancelled: ${details}`, { grpcCode });
  } else {
    const prefix = code === 'INTERNAL' ? '' : code !== undefined ? `unknown latch code ${code}: ` : `${statusName(grpcCode)}: `;
    err = new LatchClientError('UNKNOWN', prefix + details, { grpcCode });
  }
  if (hint !== undefined) leaderHints.set(err, hint);
  return err;
}

/**
 * How a failed attempt may be retried:
 * - `retry`: nothing happened, or the outcome is unknown; retrying with the same requestSeq is safe.
 * - `final`: the server gave a definite answer (or the request is bad); retrying cannot help.
 */
export type RetryClass = 'retry' | 'final';

const RETRY_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['NOT_LEADER', 'NO_QUORUM', 'LEADERSHIP_LOST', 'PROPOSAL_DROPPED', 'SHUTTING_DOWN', 'OVERLOADED']);

/** What an OVERLOADED answer without a usable hint waits before the retry. */
const DEFAULT_RETRY_AFTER_MS = 100;

/** How long the server asked to wait before retrying (OVERLOADED), or undefined. */
export function retryAfterOf(e: unknown): number | undefined {
  return e instanceof OverloadedError ? e.retryAfterMs : undefined;
}

/** The retry class of an error thrown by one attempt. */
export function retryClassOf(e: unknown): RetryClass {
  if (e instanceof LatchError) return RETRY_CODES.has(e.code) ? 'retry' : 'final';
  if (e instanceof UnavailableError) return 'retry';
  if (e instanceof LatchClientError && e.code === 'CANCELLED' && e.grpcCode === GrpcStatus.CANCELLED) return 'retry';
  return 'final';
}

/** True when an attempt that failed with `e` may have taken effect on the server. */
export function outcomeUnknown(e: unknown): boolean {
  if (e instanceof LatchError) return e.code === 'LEADERSHIP_LOST';
  if (e instanceof UnavailableError) return e.outcomeUnknown;
  return e instanceof LatchClientError && e.code === 'CANCELLED';
}
