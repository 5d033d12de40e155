/**
 * The one place where Latch errors become gRPC statuses: code from the registry, a human message,
 * and trailing metadata `latch-code` (stable code) and `latch-leader` (the leader's client address).
 * A Locks.Stream call carries the same status in a CallError instead of trailers.
 */
import { Metadata, status as GrpcCode, type ServiceError } from '@grpc/grpc-js';
import { CodecError } from '../common/codec.js';
import { LatchError, NotLeaderError, OverloadedError } from '../common/errors.js';

/** Trailing metadata key carrying the stable Latch error code. */
export const CODE_METADATA = 'latch-code';
/** Trailing metadata key carrying the leader's client address. */
export const LEADER_METADATA = 'latch-leader';
/** Trailing metadata key carrying how long to wait before retrying (OVERLOADED), in ms. */
export const RETRY_AFTER_METADATA = 'latch-retry-after-ms';

/** How a failed call ends, whichever way it travels: gRPC code, message, Latch code and leader hint. */
export interface CallStatus {
  readonly code: GrpcCode;
  readonly message: string;
  readonly latchCode: string;
  /** The leader's client address (NOT_LEADER only), when known. */
  readonly leader?: string;
  /** How long to wait before retrying (OVERLOADED only). */
  readonly retryAfterMs?: number;
}

/** Builds the status of any thrown value; unknown errors become INTERNAL without leaking internals. */
export function callStatus(err: unknown): CallStatus {
  if (err instanceof LatchError) {
    const leader = err instanceof NotLeaderError && err.leaderAddress ? err.leaderAddress : undefined;
    const retryAfterMs = err instanceof OverloadedError ? err.retryAfterMs : undefined;
    return { code: err.grpcCode as GrpcCode, message: err.message, latchCode: err.code, ...(leader ? { leader } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  if (err instanceof CodecError) return { code: GrpcCode.INVALID_ARGUMENT, message: err.message, latchCode: 'INVALID_ARGUMENT' };
  return { code: GrpcCode.INTERNAL, message: `internal error: ${err instanceof Error ? err.message : String(err)}`, latchCode: 'INTERNAL' };
}

/** The gRPC error (status plus `latch-code` / `latch-leader` trailers) of a call status. */
export function serviceErrorOf(s: CallStatus): Partial<ServiceError> {
  const metadata = new Metadata();
  if (s.latchCode) metadata.set(CODE_METADATA, s.latchCode);
  if (s.leader) metadata.set(LEADER_METADATA, s.leader);
  if (s.retryAfterMs !== undefined) metadata.set(RETRY_AFTER_METADATA, String(s.retryAfterMs));
  return { code: s.code, details: s.message, metadata };
}

/** The wire CallError (Locks.Stream) of a call status: the same code, message and trailers. */
export function callErrorOf(s: CallStatus): { grpcCode: number; latchCode: string; message: string; leader: string; retryAfterMs: number } {
  return { grpcCode: s.code, latchCode: s.latchCode, message: s.message, leader: s.leader ?? '', retryAfterMs: s.retryAfterMs ?? 0 };
}

/** Builds the gRPC error for any thrown value; unknown errors become INTERNAL without leaking internals. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  return serviceErrorOf(callStatus(err));
}

/** An INVALID_ARGUMENT LatchError naming the field. */
export function invalidArgument(field: string, message: string): LatchError {
  return new LatchError('INVALID_ARGUMENT', `${field}: ${message}`);
}
