/**
 * The LevelDB key layout. Keys are ASCII and sort so that one range read returns the log in
 * index order: `log/` + 16 lowercase hex digits of the index (fixed width, so lexicographic order
 * is numeric order for every safe integer). Prefixes sort as log/ < meta/ < snap/data/ < snap/meta.
 */

/** Prefix of log entry keys. */
export const LOG_PREFIX = 'log/';
/** Upper bound (exclusive) of the log key range. */
export const LOG_END = 'log0';
/** The storage format marker. */
export const FORMAT_KEY = 'meta/format';
/** The Raft hard state. */
export const HARD_STATE_KEY = 'meta/hard-state';
/** The node identity. */
export const IDENTITY_KEY = 'meta/identity';
/** Prefix of snapshot data chunk keys. */
export const CHUNK_PREFIX = 'snap/data/';
/** Upper bound (exclusive) of the chunk key range. */
export const CHUNK_END = 'snap/data0';
/** The snapshot record (metadata and chunking). */
export const SNAPSHOT_KEY = 'snap/meta';

/** Every fixed (non-range) key storage writes. */
export const FIXED_KEYS: readonly string[] = [FORMAT_KEY, HARD_STATE_KEY, IDENTITY_KEY, SNAPSHOT_KEY];

const LOG_KEY = /^log\/([0-9a-f]{16})$/;
const CHUNK_KEY = /^snap\/data\/([0-9a-f]{8})$/;

/** The key of the entry at `index`. */
export function logKey(index: number): string {
  return LOG_PREFIX + index.toString(16).padStart(16, '0');
}

/** The index encoded in a log key, or undefined if `key` is not a well-formed log key of a safe integer. */
export function parseLogKey(key: string): number | undefined {
  const m = LOG_KEY.exec(key);
  if (!m) return undefined;
  const n = parseInt(m[1]!, 16);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The key of snapshot chunk number `n` (0-based). */
export function chunkKey(n: number): string {
  return CHUNK_PREFIX + n.toString(16).padStart(8, '0');
}

/** The chunk number encoded in a chunk key, or undefined if malformed. */
export function parseChunkKey(key: string): number | undefined {
  const m = CHUNK_KEY.exec(key);
  return m ? parseInt(m[1]!, 16) : undefined;
}
