/**
 * The byte layout of SegmentStorage's log segments: frames, the three record types, segment file
 * names, and the torn-write test. Pure (no I/O); segment-log.ts does the reading and writing.
 *
 * A segment is a preallocated (zero-filled) file of frames. Every frame starts at a multiple of
 * 16 bytes, so its 16-byte header never straddles a sector or page:
 *
 *   [0,4)   u32 LE  payload length L (1 ≤ L ≤ MAX_PAYLOAD)
 *   [4,8)   u32 LE  CRC-32C of the payload
 *   [8,12)  u32     reserved, 0
 *   [12,16) u32 LE  CRC-32C of bytes [0,12): the header checks itself, so a good header's length
 *                   can be trusted even when the payload is damaged
 *   [16,16+L)       payload: a record type byte, the record, and END_MARK as its last byte
 *   then zero padding to the next multiple of 16.
 *
 * Records (numbers are u64 as two u32 LE halves, low first, and must be safe integers):
 *   HEADER  (the first frame of every segment): magic "LATCHSEG", format, group id, segment seq,
 *           the first index in the file name, and the log's state when the segment was created:
 *           snapshot base index/term, last index/term, hard state. A segment is self-describing,
 *           so the segments before it can be deleted.
 *   BATCH   one save(): optional reset to a received snapshot (index, term: every earlier entry
 *           is gone), optional hard state, and entries firstIndex..firstIndex+count-1 (each
 *           stored entry with index ≥ firstIndex is replaced: conflict truncation is implicit).
 *   COMPACT a local compaction to (index, term): entries ≤ index are gone.
 * The group id (1 for now) is in each segment's header and file name, so several Raft groups can
 * later share a directory or device.
 */
import { pack, unpack } from '../common/codec.js';
import type { Entry, HardState } from '../raft/types.js';
import { crc32c } from './crc32c.js';
import { parseEntry, parseHardState } from './records.js';

/** Frames start at multiples of this. */
export const FRAME_ALIGN = 16;
/** Length of a frame header. */
export const FRAME_HEADER = 16;
/** Largest accepted payload (a Ready is bounded by maxSizePerMsg, 1 MiB by default). */
export const MAX_PAYLOAD = 1 << 30;
/** The last byte of every payload: keeps the frame's last sector non-zero (see isTornFrame). */
export const END_MARK = 0xe0;
/** The segment format this code reads and writes. */
export const SEGMENT_FORMAT = 1;
/** Magic at the start of every segment header record. */
export const SEGMENT_MAGIC = 'LATCHSEG';
/** Sector size assumed by the torn-write test. */
const SECTOR = 512;

/** Record type bytes. */
export const RecordType = { header: 1, batch: 2, compact: 3 } as const;

const FLAG_HARD_STATE = 1;
const FLAG_RESET = 2;
const KIND_NORMAL = 1;
const KIND_CONF = 2;
const KIND_NOOP = 3;

/** The log's state as carried in a segment header. */
export interface LogPoint {
  readonly baseIndex: number;
  readonly baseTerm: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly hardState: HardState;
}

/** A decoded segment header record. */
export interface SegmentHeader extends LogPoint {
  readonly type: 'header';
  readonly format: number;
  readonly group: number;
  readonly seq: number;
  readonly firstIndex: number;
}

/** A decoded batch record. */
export interface BatchRecord {
  readonly type: 'batch';
  readonly reset?: { readonly index: number; readonly term: number };
  readonly hardState?: HardState;
  /** Index of entries[0] (meaningful only when entries is non-empty). */
  readonly firstIndex: number;
  readonly entries: readonly Entry[];
}

/** A decoded compaction record. */
export interface CompactRecord {
  readonly type: 'compact';
  readonly index: number;
  readonly term: number;
}

/** Any decoded record. */
export type LogRecord = SegmentHeader | BatchRecord | CompactRecord;

/** Bytes that are not a valid frame or record; `message` says what is wrong. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** The name of segment `seq` of `group` whose first entry index is `firstIndex`. */
export function segmentName(group: number, seq: number, firstIndex: number): string {
  return `${hex(group, 8)}-${hex(seq, 16)}-${hex(firstIndex, 16)}.seg`;
}

const SEGMENT_NAME = /^([0-9a-f]{8})-([0-9a-f]{16})-([0-9a-f]{16})\.seg$/;

/** Parses a segment file name, or undefined when `name` is not one. */
export function parseSegmentName(name: string): { group: number; seq: number; firstIndex: number } | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined;
  const [group, seq, firstIndex] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { group, seq, firstIndex };
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Rounds up to the frame alignment. */
export function align(n: number): number {
  return Math.ceil(n / FRAME_ALIGN) * FRAME_ALIGN;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Writes little-endian fields into a preallocated buffer. */
class Writer {
  off = FRAME_HEADER;
  constructor(readonly buf: Buffer) {}
  u8(v: number): void {
    this.buf[this.off++] = v;
  }
  u32(v: number): void {
    this.buf.writeUInt32LE(v, this.off);
    this.off += 4;
  }
  u64(v: number): void {
    this.buf.writeUInt32LE(v >>> 0, this.off);
    this.buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000), this.off + 4);
    this.off += 8;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.off);
    this.off += b.length;
  }
  ascii(s: string): void {
    this.off += this.buf.write(s, this.off, 'latin1');
  }
  hardState(hs: HardState): void {
    this.u64(hs.term);
    this.u64(hs.commit);
    const vote = hs.vote ?? '';
    this.u8(vote.length);
    this.ascii(vote);
  }
}

const HARD_STATE_MAX = 8 + 8 + 1 + 255;

/** Allocates a frame for a payload of `max` bytes at most, calls `fill`, and seals it. */
function frame(max: number, fill: (w: Writer) => void): Buffer {
  const buf = Buffer.allocUnsafe(align(FRAME_HEADER + max + 1));
  const w = new Writer(buf);
  fill(w);
  w.u8(END_MARK);
  const length = w.off - FRAME_HEADER;
  const total = align(w.off);
  buf.fill(0, w.off, total);
  buf.writeUInt32LE(length, 0);
  buf.writeUInt32LE(crc32c(buf, 0, FRAME_HEADER, w.off), 4);
  buf.writeUInt32LE(0, 8);
  buf.writeUInt32LE(crc32c(buf, 0, 0, 12), 12);
  return total === buf.length ? buf : buf.subarray(0, total);
}

/** The frame of a segment header record. */
export function encodeHeader(h: Omit<SegmentHeader, 'type' | 'format'>): Buffer {
  return frame(1 + 8 + 1 + 4 + 8 * 6 + HARD_STATE_MAX, (w) => {
    w.u8(RecordType.header);
    w.ascii(SEGMENT_MAGIC);
    w.u8(SEGMENT_FORMAT);
    w.u32(h.group);
    w.u64(h.seq);
    w.u64(h.firstIndex);
    w.u64(h.baseIndex);
    w.u64(h.baseTerm);
    w.u64(h.lastIndex);
    w.u64(h.lastTerm);
    w.hardState(h.hardState);
  });
}

/** Bytes an entry takes in a batch record, and the packed conf change if any. */
function entrySize(e: Entry): number {
  switch (e.type) {
    case 'normal':
      return 1 + 8 + 4 + e.data.length;
    case 'conf':
      return 1 + 8 + 4 + pack(e.change).length;
    case 'noop':
      return 1 + 8;
  }
}

/**
 * The frame of one save(). `entries` must be contiguous (checked by the caller's LogShape), so
 * only the first index is stored.
 */
export function encodeBatch(b: Omit<BatchRecord, 'type' | 'firstIndex'>): Buffer {
  let size = 1 + 1 + 16 + HARD_STATE_MAX + 8 + 4;
  for (const e of b.entries) size += entrySize(e);
  return frame(size, (w) => {
    w.u8(RecordType.batch);
    w.u8((b.hardState ? FLAG_HARD_STATE : 0) | (b.reset ? FLAG_RESET : 0));
    if (b.reset) {
      w.u64(b.reset.index);
      w.u64(b.reset.term);
    }
    if (b.hardState) w.hardState(b.hardState);
    w.u64(b.entries[0]?.index ?? 0);
    w.u32(b.entries.length);
    for (const e of b.entries) {
      switch (e.type) {
        case 'normal':
          w.u8(KIND_NORMAL);
          w.u64(e.term);
          w.u32(e.data.length);
          w.bytes(e.data);
          break;
        case 'conf': {
          const c = pack(e.change);
          w.u8(KIND_CONF);
          w.u64(e.term);
          w.u32(c.length);
          w.bytes(c);
          break;
        }
        case 'noop':
          w.u8(KIND_NOOP);
          w.u64(e.term);
          break;
      }
    }
  });
}

/** The frame of a compaction record. */
export function encodeCompact(index: number, term: number): Buffer {
  return frame(1 + 16, (w) => {
    w.u8(RecordType.compact);
    w.u64(index);
    w.u64(term);
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** What is at a frame position. */
export type FrameProbe =
  | { readonly kind: 'frame'; readonly payload: Uint8Array; readonly next: number }
  | { readonly kind: 'zero' }
  | { readonly kind: 'bad'; readonly why: string; readonly headerOk: boolean; readonly length: number };

/** Reads the frame at `off` (a multiple of FRAME_ALIGN) of `buf`, without decoding its record. */
export function probeFrame(buf: Uint8Array, off: number): FrameProbe {
  if (off + FRAME_HEADER > buf.length) {
    return isZero(buf, off, buf.length) ? { kind: 'zero' } : { kind: 'bad', why: 'a partial frame header', headerOk: false, length: 0 };
  }
  const dv = new DataView(buf.buffer, buf.byteOffset + off, FRAME_HEADER);
  const length = dv.getUint32(0, true);
  const crc = dv.getUint32(4, true);
  const reserved = dv.getUint32(8, true);
  const check = dv.getUint32(12, true);
  if (length === 0 && crc === 0 && reserved === 0 && check === 0) return { kind: 'zero' };
  if (check !== crc32c(buf, 0, off, off + 12) || reserved !== 0 || length === 0 || length > MAX_PAYLOAD) {
    return { kind: 'bad', why: 'the frame header fails its checksum', headerOk: false, length: 0 };
  }
  const end = off + FRAME_HEADER + length;
  if (end > buf.length) return { kind: 'bad', why: `the frame runs past the end of the file (${length} bytes)`, headerOk: true, length };
  if (crc32c(buf, 0, off + FRAME_HEADER, end) !== crc) return { kind: 'bad', why: 'record checksum mismatch', headerOk: true, length };
  return { kind: 'frame', payload: buf.subarray(off + FRAME_HEADER, end), next: align(end) };
}

/** True when buf[from, to) is all zero bytes. */
export function isZero(buf: Uint8Array, from: number, to: number): boolean {
  let i = from;
  // Word at a time on the aligned middle.
  while (i < to && (buf.byteOffset + i) % 4 !== 0) if (buf[i++] !== 0) return false;
  const words = Math.floor((to - i) / 4);
  if (words > 0) {
    const u32 = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let k = 0; k < words; k++) if (u32[k] !== 0) return false;
    i += words * 4;
  }
  while (i < to) if (buf[i++] !== 0) return false;
  return true;
}

/**
 * Whether a bad frame at `off` of the LAST segment is a torn write (never acknowledged, safe to
 * cut) rather than corruption. A torn write is a prefix of a frame: the process died inside
 * write(), which copies whole pages in order, or the machine lost unsynced sectors, which read
 * back as the preallocated zeros. So it is torn when no valid frame follows it and either its
 * header is zero (its first sector never reached the disk) or its header is good and the frame
 * runs past the end of the file or has an all-zero sector (the part that never reached the disk;
 * END_MARK keeps the last sector of a complete frame non-zero). A good header over a payload that
 * fails its checksum while every sector holds data is a flipped bit: corruption.
 */
export function isTornFrame(buf: Uint8Array, off: number, probe: Extract<FrameProbe, { kind: 'bad' }>): boolean {
  if (off + FRAME_HEADER > buf.length) return true; // a partial header at the very end of the file
  if (validFrameAfter(buf, off)) return false;
  const headerZero = isZero(buf, off, off + FRAME_HEADER);
  if (headerZero) return true;
  if (!probe.headerOk) return false;
  const end = off + FRAME_HEADER + probe.length;
  if (end > buf.length) return true;
  for (let s = Math.floor(off / SECTOR) * SECTOR; s < end; s += SECTOR) {
    if (isZero(buf, Math.max(s, off), Math.min(s + SECTOR, end))) return true;
  }
  return false;
}

/** True when some aligned offset after `off` holds a complete, valid frame. */
function validFrameAfter(buf: Uint8Array, off: number): boolean {
  const last = lastNonZero(buf, off + FRAME_ALIGN);
  for (let o = off + FRAME_ALIGN; o <= last && o + FRAME_HEADER <= buf.length; o += FRAME_ALIGN) {
    if (buf[o] === 0 && buf[o + 1] === 0 && buf[o + 2] === 0 && buf[o + 3] === 0) continue; // length 0: no frame starts here
    if (probeFrame(buf, o).kind === 'frame') return true;
  }
  return false;
}

/** The offset of the last non-zero byte at or after `from`, or from - 1 when there is none. */
export function lastNonZero(buf: Uint8Array, from: number): number {
  let i = buf.length;
  const step = 4096;
  while (i > from) {
    const lo = Math.max(from, i - step);
    if (!isZero(buf, lo, i)) {
      for (let k = i - 1; k >= lo; k--) if (buf[k] !== 0) return k;
    }
    i = lo;
  }
  return from - 1;
}

/** Reads little-endian fields from a payload, checking bounds. */
class Reader {
  off = 0;
  constructor(private readonly buf: Uint8Array) {}
  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new FrameError('the record is shorter than its fields');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const o = this.off;
    this.off += 4;
    return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  }
  u64(what: string): number {
    const lo = this.u32();
    const hi = this.u32();
    if (hi > 0x1f_ffff) throw new FrameError(`${what} is not a safe integer`);
    return hi * 0x1_0000_0000 + lo;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    // A fresh copy: the payload is a view of a whole segment file, which must not stay pinned or aliased.
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(this.off, this.off + n));
    this.off += n;
    return out;
  }
  ascii(n: number): string {
    this.need(n);
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.off, n).toString('latin1');
    this.off += n;
    return s;
  }
  hardState(): HardState {
    const term = this.u64('hard state term');
    const commit = this.u64('hard state commit');
    const n = this.u8();
    const vote = n === 0 ? null : this.ascii(n);
    return checked(() => parseHardState({ term, vote, commit }));
  }
  end(): void {
    if (this.u8() !== END_MARK || this.off !== this.buf.length) throw new FrameError('the record does not end where its frame does');
  }
}

function checked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new FrameError(err instanceof Error ? err.message : String(err));
  }
}

/** Decodes a frame's payload into its record; throws FrameError when it is malformed. */
export function decodeRecord(payload: Uint8Array): LogRecord {
  const r = new Reader(payload);
  const type = r.u8();
  switch (type) {
    case RecordType.header: {
      const magic = r.ascii(SEGMENT_MAGIC.length);
      if (magic !== SEGMENT_MAGIC) throw new FrameError('bad segment magic');
      const format = r.u8();
      if (format !== SEGMENT_FORMAT) throw new FrameError(`unsupported segment format ${format} (this build reads ${SEGMENT_FORMAT})`);
      const group = r.u32();
      const seq = r.u64('segment seq');
      const firstIndex = r.u64('first index');
      const baseIndex = r.u64('base index');
      const baseTerm = r.u64('base term');
      const lastIndex = r.u64('last index');
      const lastTerm = r.u64('last term');
      const hardState = r.hardState();
      r.end();
      return { type: 'header', format, group, seq, firstIndex, baseIndex, baseTerm, lastIndex, lastTerm, hardState };
    }
    case RecordType.batch: {
      const flags = r.u8();
      if (flags & ~(FLAG_HARD_STATE | FLAG_RESET)) throw new FrameError(`unknown batch flags ${flags}`);
      const reset = flags & FLAG_RESET ? { index: r.u64('reset index'), term: r.u64('reset term') } : undefined;
      const hardState = flags & FLAG_HARD_STATE ? r.hardState() : undefined;
      const firstIndex = r.u64('first index');
      const count = r.u32();
      if (count > 0 && (firstIndex < 1 || firstIndex + count - 1 > Number.MAX_SAFE_INTEGER)) throw new FrameError('entry indexes out of range');
      const entries: Entry[] = new Array<Entry>(count);
      for (let i = 0; i < count; i++) {
        const kind = r.u8();
        const term = r.u64('entry term');
        if (term < 1) throw new FrameError('an entry has term 0');
        const index = firstIndex + i;
        if (kind === KIND_NORMAL) entries[i] = { type: 'normal', term, index, data: r.bytes(r.u32()) };
        else if (kind === KIND_NOOP) entries[i] = { type: 'noop', term, index };
        else if (kind === KIND_CONF) {
          const raw = r.bytes(r.u32());
          entries[i] = checked(() => parseEntry({ type: 'conf', term, index, change: unpack(raw) }));
        } else throw new FrameError(`unknown entry kind ${kind}`);
      }
      r.end();
      return { type: 'batch', ...(reset ? { reset } : {}), ...(hardState ? { hardState } : {}), firstIndex, entries };
    }
    case RecordType.compact: {
      const index = r.u64('compaction index');
      const term = r.u64('compaction term');
      r.end();
      return { type: 'compact', index, term };
    }
    default:
      throw new FrameError(`unknown record type ${type}`);
  }
}
