/**
 * The one place where Latch errors become gRPC statuses: code from the registry, a human message,
 * and trailing metadata `latch-code` (stable code) and `latch-leader` (the leader's client address).
 */
import { Metadata, status as GrpcCode, type ServiceError } from '@grpc/grpc-js';
import { CodecError } from '../common/codec.js';
import { LatchError, NotLeaderError } from '../common/errors.js';

/** Trailing metadata key carrying the stable Latch error code. */
export const CODE_METADATA = 'latch-code';
/** Trailing metadata key carrying the leader's client address. */
export const LEADER_METADATA = 'latch-leader';

/** Builds the gRPC error for any thrown value; unknown errors become INTERNAL without leaking internals. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof LatchError) {
    metadata.set(CODE_METADATA, err.code);
    if (err instanceof NotLeaderError && err.leaderAddress) metadata.set(LEADER_METADATA, err.leaderAddress);
    return { code: err.grpcCode as GrpcCode, details: err.message, metadata };
  }
  if (err instanceof CodecError) {
    metadata.set(CODE_METADATA, 'INVALID_ARGUMENT');
    return { code: GrpcCode.INVALID_ARGUMENT, details: err.message, metadata };
  }
  metadata.set(CODE_METADATA, 'INTERNAL');
  return { code: GrpcCode.INTERNAL, details: `internal error: ${err instanceof Error ? err.message : String(err)}`, metadata };
}

/** An INVALID_ARGUMENT LatchError naming the field. */
export function invalidArgument(field: string, message: string): LatchError {
  return new LatchError('INVALID_ARGUMENT', `${field}: ${message}`);
}
