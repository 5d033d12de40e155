/**
 * Errors of the storage layer besides StorageFatalError (which lives in the common registry):
 * a caller's request that storage refuses without touching the disk, and use after close.
 */
import { LatchError } from '../common/errors.js';

/**
 * A write or read request that is malformed or inconsistent with the stored log (a gap, a
 * non-contiguous batch, a compaction past the last index...). Nothing was written; the storage
 * stays usable. It is a bug in the caller, never a disk problem.
 */
export class StorageArgumentError extends LatchError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', `storage refused the request: ${message}`);
    this.name = 'StorageArgumentError';
  }
}

/** The storage was closed (or crashed, for MemoryStorage); nothing happened. */
export class StorageClosedError extends LatchError {
  constructor(what: string) {
    super('SHUTTING_DOWN', `storage is closed: ${what}`);
    this.name = 'StorageClosedError';
  }
}
