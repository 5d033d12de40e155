/**
 * A SnapshotChunks implementation shared by both storages: re-chunks the stored pieces of a
 * snapshot to the requested size, checks total size and CRC-32 on the way, and releases the
 * underlying view when iteration ends, fails, is abandoned, or `close()` is called.
 */
import { crc32 } from 'node:zlib';
import type { Snapshot, SnapshotMeta } from '../raft/types.js';
import { StorageArgumentError } from './errors.js';
import type { SnapshotChunks } from './types.js';

/** Where a stream's bytes come from and how to check them. */
export interface SnapshotSource {
  readonly meta: SnapshotMeta;
  readonly size: number;
  readonly crc: number;
  /** The stored pieces, in order (any sizes). */
  pieces(): AsyncIterable<Uint8Array>;
  /** Releases the underlying view; called exactly once. */
  release(): Promise<void>;
  /** Builds the error thrown when the bytes do not match size or checksum. */
  corrupt(message: string): Error;
}

/** Throws StorageArgumentError unless `chunkSize` is a positive safe integer. */
export function checkChunkSize(chunkSize: number): void {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new StorageArgumentError(`chunk size must be a positive integer (got ${String(chunkSize)})`);
  }
}

/** Joins `parts` (total `length` bytes) into one fresh array. */
export function concatBytes(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The stream over one SnapshotSource; iterable once. */
export class SnapshotStream implements SnapshotChunks {
  private iterated = false;
  private released = false;

  constructor(
    private readonly source: SnapshotSource,
    private readonly chunkSize: number,
  ) {
    checkChunkSize(chunkSize);
  }

  get meta(): SnapshotMeta {
    return this.source.meta;
  }

  get size(): number {
    return this.source.size;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new StorageArgumentError('a snapshot stream can be iterated only once');
    if (this.released) throw new StorageArgumentError('the snapshot stream is closed');
    this.iterated = true;
    return this.generate();
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.source.release();
  }

  private async *generate(): AsyncGenerator<Uint8Array> {
    const { size, crc } = this.source;
    const cs = this.chunkSize;
    let parts: Uint8Array[] = [];
    let buffered = 0;
    let total = 0;
    let sum = 0;
    try {
      for await (const piece of this.source.pieces()) {
        total += piece.length;
        if (total > size) throw this.source.corrupt(`snapshot holds more than its recorded ${size} bytes`);
        sum = crc32(piece, sum);
        let rest = piece;
        while (rest.length > 0) {
          const take = Math.min(cs - buffered, rest.length);
          parts.push(rest.subarray(0, take));
          buffered += take;
          rest = rest.subarray(take);
          if (buffered === cs) {
            const chunk = concatBytes(parts, buffered);
            parts = [];
            buffered = 0;
            // Never hand out the final bytes before they are verified.
            if (total === size) this.verify(total, sum);
            yield chunk;
          }
        }
      }
      this.verify(total, sum);
      if (buffered > 0) yield concatBytes(parts, buffered);
    } finally {
      await this.close();
    }
  }

  private verify(total: number, sum: number): void {
    if (total !== this.source.size) throw this.source.corrupt(`snapshot holds ${total} bytes, recorded ${this.source.size}`);
    if (sum >>> 0 !== this.source.crc) throw this.source.corrupt(`snapshot checksum mismatch (crc32 ${sum >>> 0}, recorded ${this.source.crc})`);
  }
}

/**
 * Reads a whole snapshot from a stream opened with one chunk of its whole size (its single,
 * verified chunk is the data), or undefined when there is none; a read failure is `readError(err)`.
 */
export async function readWholeSnapshot(stream: SnapshotStream | undefined, readError: (err: unknown) => Error): Promise<Snapshot | undefined> {
  if (!stream) return undefined;
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of stream) parts.push(chunk);
  } catch (err) {
    throw readError(err);
  }
  return { meta: stream.meta, data: parts.length === 1 ? parts[0]! : concatBytes(parts, stream.size) };
}
