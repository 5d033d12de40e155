/**
 * The backup file of `latch snapshot save` / `restore`: a codec envelope holding the lock state
 * machine's bytes at one applied index of the source cluster, with a checksum of those bytes.
 */
import { createHash } from 'node:crypto';
import { CodecError, decode, encode } from '../common/codec.js';
import { LatchError } from '../common/errors.js';
import { isIndex } from '../common/ids.js';
import type { MemberInfo } from '../node/members.js';

/** Marks a Latch backup file. */
export const SNAPSHOT_FILE_FORMAT = 'latch-snapshot';

/** A backup: the state at `index` (term `term`) of cluster `clusterId`. */
export interface SnapshotFile {
  readonly format: typeof SNAPSHOT_FILE_FORMAT;
  readonly clusterId: string;
  readonly index: number;
  readonly term: number;
  /** Wall-clock ms on the leader when taken (informational). */
  readonly takenAtMs: number;
  /** The source cluster's members (informational: a restore sets a new membership). */
  readonly members: readonly MemberInfo[];
  /** The lock state machine's snapshot bytes. */
  readonly sm: Uint8Array;
  /** Hex SHA-256 of `sm`. */
  readonly smSha256: string;
}

/** Hex SHA-256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Encodes a backup file (the checksum is computed here). */
export function encodeSnapshotFile(f: Omit<SnapshotFile, 'format' | 'smSha256'>): Uint8Array {
  return encode({ ...f, format: SNAPSHOT_FILE_FORMAT, smSha256: sha256Hex(f.sm) } satisfies SnapshotFile);
}

function bad(message: string, cause?: unknown): LatchError {
  return new LatchError('INVALID_ARGUMENT', `not a usable Latch snapshot file: ${message}`, cause === undefined ? undefined : { cause });
}

/** Decodes and checks a backup file; LatchError('INVALID_ARGUMENT') when it is not one or is damaged. */
export function decodeSnapshotFile(bytes: Uint8Array): SnapshotFile {
  let f: Partial<SnapshotFile>;
  try {
    f = decode<Partial<SnapshotFile>>(bytes);
  } catch (err) {
    throw bad(err instanceof CodecError ? err.message : String(err), err);
  }
  if (typeof f !== 'object' || f === null || f.format !== SNAPSHOT_FILE_FORMAT) throw bad('wrong format marker');
  if (!isIndex(f.index) || f.index < 1 || !isIndex(f.term) || f.term < 1) throw bad('index and term must be positive integers');
  if (typeof f.clusterId !== 'string' || !Array.isArray(f.members) || typeof f.takenAtMs !== 'number') throw bad('missing fields');
  if (!(f.sm instanceof Uint8Array) || typeof f.smSha256 !== 'string') throw bad('missing state bytes');
  if (sha256Hex(f.sm) !== f.smSha256) throw bad('checksum mismatch (the file is damaged)');
  return f as SnapshotFile;
}
