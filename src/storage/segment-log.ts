/**
 * The segment files of one Raft group's log (format in segment-format.ts): listing and reading
 * them back (replaying their records into the log they describe, cutting a torn tail), appending
 * frames with at most one fdatasync each, rotating to a new preallocated segment, and deleting
 * whole segments below the first live entry. It knows nothing of snapshots or identity.
 *
 * Invariants kept on disk:
 * - Segment seqs are consecutive; only the last one (the active segment) is ever written to, and
 *   a segment is fdatasync'd before the next one is created, so only the last can hold a torn
 *   frame.
 * - A segment appears under its final name only complete: header written and zero-filled to its
 *   size under a `.tmp` name, fsync'd, renamed, then the directory fsync'd.
 * - Frames are written at the active segment's end offset, never over a frame.
 */
import { close, fdatasync, fsync, open, read, write, type PathLike } from 'node:fs';
import { mkdir, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, HardState } from '../raft/types.js';
import {
  FrameError,
  decodeRecord,
  encodeHeader,
  isTornFrame,
  isZero,
  lastNonZero,
  parseSegmentName,
  probeFrame,
  segmentName,
  type FrameProbe,
  type LogPoint,
  type LogRecord,
  type SegmentHeader,
} from './segment-format.js';

/** One segment file. */
interface Segment {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
  /** Offset just past the last frame. */
  end: number;
  /** Offset just past the header frame. */
  headerEnd: number;
}

/** What replaying the segments gives: the log they describe and where each entry is. */
export interface ReplayedLog extends LogPoint {
  /** Entries baseIndex+1..lastIndex, in order. */
  readonly entries: readonly Entry[];
  /** Segment seq and frame offset of each entry in `entries`. */
  readonly seqs: readonly number[];
  readonly offsets: readonly number[];
}

/** Where a frame was written. */
export interface Placed {
  readonly seq: number;
  readonly offset: number;
}

/** How to build errors that name the data dir. */
export type FatalFactory = (message: string, cause?: unknown) => Error;

/** Options of a SegmentLog. */
export interface SegmentLogOptions {
  /** Directory of the segment files. */
  readonly dir: string;
  readonly group: number;
  /** Size segments are preallocated to; a segment is rotated when the next frame does not fit. */
  readonly segmentBytes: number;
  readonly fatal: FatalFactory;
}

/** The segment files of one group; see the module comment. Not safe for concurrent calls: the owner serializes them. */
export class SegmentLog {
  private segments: Segment[] = [];
  private fd: number | undefined;
  /** Frames were written to the active segment since its last fdatasync. */
  private dirty = false;
  private zeros: Buffer | undefined;

  constructor(private readonly opts: SegmentLogOptions) {}

  /** The active segment's seq. */
  get activeSeq(): number {
    return this.active().seq;
  }

  /** Names of the segment files, in order (for tests and diagnostics). */
  get files(): readonly string[] {
    return this.segments.map((s) => s.name);
  }

  /** The file name of segment `seq`, if it exists. */
  fileOf(seq: number): string | undefined {
    return this.segments.find((s) => s.seq === seq)?.name;
  }

  /**
   * Lists the segment files and replays them. The first call (`repair`) reads whole files, cuts a
   * torn tail of the last segment (zeroing it, fdatasync'd) and opens the active segment; with
   * `create`, a directory without segments gets a first one at that point; with `expectEmpty`
   * (the metadata was just created) existing segments are refused. Later calls re-read what was
   * written and check it, changing nothing. Throws a fatal error on anything else.
   */
  async replay(mode: { readonly repair: boolean; readonly create?: LogPoint; readonly expectEmpty?: boolean }): Promise<ReplayedLog> {
    if (mode.repair) await this.list(mode.create, mode.expectEmpty ?? false);
    const state = new LogReplay();
    let torn: { seg: Segment; from: number; to: number } | undefined;
    for (let k = 0; k < this.segments.length; k++) {
      const seg = this.segments[k]!;
      const last = k === this.segments.length - 1;
      const buf = await this.read(seg, mode.repair);
      const where = (off: number): string => `segment ${join(this.opts.dir, seg.name)} is corrupt at byte offset ${off}`;
      let off = 0;
      for (;;) {
        const probe: FrameProbe = off >= buf.length ? { kind: 'zero' } : probeFrame(buf, off);
        if (probe.kind === 'frame') {
          let rec: LogRecord;
          try {
            rec = decodeRecord(probe.payload);
          } catch (err) {
            throw this.opts.fatal(`${where(off)}: ${err instanceof FrameError ? err.message : String(err)}`, err);
          }
          const problem = off === 0 ? this.header(state, rec, seg, k === 0) : state.apply(rec, seg.seq, off);
          if (problem) throw this.opts.fatal(`${where(off)}: ${problem}`);
          if (off === 0) seg.headerEnd = probe.next;
          off = probe.next;
          continue;
        }
        if (off === 0) throw this.opts.fatal(`${where(0)}: the segment has no valid header`);
        if (!mode.repair) {
          if (off === seg.end) break;
          throw this.opts.fatal(`${where(off)}: ${probe.kind === 'bad' ? probe.why : 'the log ends early'} (written up to ${seg.end})`);
        }
        if (probe.kind === 'zero' && isZero(buf, off, buf.length)) break; // the clean end
        const bad = probe.kind === 'bad' ? probe : ({ kind: 'bad', why: 'unexpected bytes after a zero frame header', headerOk: false, length: 0 } as const);
        if (last && isTornFrame(buf, off, bad)) {
          torn = { seg, from: off, to: lastNonZero(buf, off) + 1 };
          break;
        }
        throw this.opts.fatal(`${where(off)}: ${bad.why}`);
      }
      seg.end = off;
    }
    const missing = state.missing();
    if (missing) throw this.opts.fatal(`${missing} (in ${this.opts.dir})`);
    if (mode.repair) {
      if (torn) await this.cut(torn.seg, torn.from, torn.to);
      await this.openActive();
    }
    return state.result();
  }

  /**
   * Appends one frame to the active segment (rotating first when it does not fit; `point` is the
   * log's state before the frame, `nameIndex` the first index it holds), fdatasync'd when `sync`.
   */
  async append(frame: Uint8Array, sync: boolean, point: LogPoint, nameIndex: number): Promise<Placed> {
    let seg = this.active();
    if (seg.end + frame.length > this.opts.segmentBytes && this.hasFrames(seg)) seg = await this.rotate(point, nameIndex);
    const offset = seg.end;
    await writeAll(this.fd!, frame, offset);
    seg.end += frame.length;
    this.dirty = true;
    if (sync) await this.flush();
    return { seq: seg.seq, offset };
  }

  /** fdatasyncs the active segment if anything was written to it since the last sync. */
  async flush(): Promise<void> {
    if (!this.dirty || this.fd === undefined) return;
    await datasync(this.fd);
    this.dirty = false;
  }

  /** Deletes every segment with seq below `seq` (never the active one), oldest first, then fsyncs the directory. */
  async deleteBefore(seq: number): Promise<void> {
    const keep = Math.min(seq, this.activeSeq);
    const doomed = this.segments.filter((s) => s.seq < keep);
    if (doomed.length === 0) return;
    for (const s of doomed) {
      await unlink(join(this.opts.dir, s.name));
      this.segments.shift();
    }
    await syncDir(this.opts.dir);
  }

  /** Syncs and closes the active segment. Idempotent. */
  async close(): Promise<void> {
    const fd = this.fd;
    if (fd === undefined) return;
    try {
      await this.flush();
    } finally {
      this.fd = undefined;
      await closeFd(fd);
    }
  }

  /** Closes the active segment without syncing (after a failure). */
  async abandon(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await closeFd(fd).catch(() => undefined);
  }

  private active(): Segment {
    const seg = this.segments[this.segments.length - 1];
    if (!seg || this.fd === undefined) throw this.opts.fatal('the segment log is not open');
    return seg;
  }

  private hasFrames(seg: Segment): boolean {
    return seg.end > seg.headerEnd;
  }

  /** Checks a segment's first record (its header) against its name and the log replayed so far. */
  private header(state: LogReplay, rec: LogRecord, seg: Segment, first: boolean): string | undefined {
    if (rec.type !== 'header') return `the first record is a ${rec.type} record, not a segment header`;
    if (rec.group !== this.opts.group) return `the header names group ${rec.group}, expected ${this.opts.group}`;
    if (rec.seq !== seg.seq || rec.firstIndex !== seg.firstIndex) {
      return `the header says seq ${rec.seq} first index ${rec.firstIndex}, the file name ${seg.seq} and ${seg.firstIndex}`;
    }
    if (first) {
      state.init(rec);
      return undefined;
    }
    return state.checkHeader(rec);
  }

  /** Lists the directory (creating the first segment of an empty one when asked). */
  private async list(create: LogPoint | undefined, expectEmpty: boolean): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const found: Segment[] = [];
    for (const name of await readdir(this.opts.dir)) {
      if (name.endsWith('.seg.tmp')) {
        await unlink(join(this.opts.dir, name)); // a rotation that never completed: never used
        continue;
      }
      const parsed = parseSegmentName(name);
      if (!parsed) throw this.opts.fatal(`unexpected file ${join(this.opts.dir, name)} among the log segments`);
      if (parsed.group !== this.opts.group) continue; // another Raft group's segment
      found.push({ seq: parsed.seq, firstIndex: parsed.firstIndex, name, end: 0, headerEnd: 0 });
    }
    found.sort((a, b) => a.seq - b.seq);
    if (expectEmpty && found.length > 0) {
      throw this.opts.fatal(`log segments exist in ${this.opts.dir}, but the meta db was missing or empty (its snapshots and identity are lost)`);
    }
    for (let i = 1; i < found.length; i++) {
      if (found[i]!.seq !== found[i - 1]!.seq + 1) {
        throw this.opts.fatal(`log segment seq ${found[i - 1]!.seq + 1} is missing (between ${found[i - 1]!.name} and ${found[i]!.name})`);
      }
    }
    this.segments = found;
    if (found.length === 0) {
      if (!create) throw this.opts.fatal(`no log segments in ${this.opts.dir}, but the meta db says the log was created`);
      const seg = await this.createSegment(1, create.lastIndex + 1, create);
      this.segments = [seg];
    }
  }

  private async read(seg: Segment, whole: boolean): Promise<Buffer> {
    const path = join(this.opts.dir, seg.name);
    if (whole) return readFile(path);
    const fd = await openFd(path, 'r');
    try {
      const buf = Buffer.allocUnsafe(seg.end);
      let off = 0;
      while (off < seg.end) {
        const n = await readAt(fd, buf, off, seg.end - off, off);
        if (n === 0) throw this.opts.fatal(`segment ${path} is shorter than the ${seg.end} bytes written to it`);
        off += n;
      }
      return buf;
    } finally {
      await closeFd(fd);
    }
  }

  /** Zeroes a torn tail and syncs it, so the next frame starts on clean ground. */
  private async cut(seg: Segment, from: number, to: number): Promise<void> {
    const fd = await openFd(join(this.opts.dir, seg.name), 'r+');
    try {
      await writeAll(fd, Buffer.alloc(to - from), from);
      await datasync(fd);
    } finally {
      await closeFd(fd);
    }
  }

  private async openActive(): Promise<void> {
    const seg = this.segments[this.segments.length - 1]!;
    this.fd = await openFd(join(this.opts.dir, seg.name), 'r+');
  }

  /** Syncs and closes the active segment and starts the next one. */
  private async rotate(point: LogPoint, nameIndex: number): Promise<Segment> {
    const old = this.active();
    await this.flush();
    const fd = this.fd!;
    this.fd = undefined;
    await closeFd(fd);
    const seg = await this.createSegment(old.seq + 1, nameIndex, point);
    this.segments.push(seg);
    this.fd = await openFd(join(this.opts.dir, seg.name), 'r+');
    return seg;
  }

  /** Writes a complete, preallocated segment under a temporary name and renames it into place. */
  private async createSegment(seq: number, firstIndex: number, point: LogPoint): Promise<Segment> {
    const name = segmentName(this.opts.group, seq, firstIndex);
    const tmp = join(this.opts.dir, `${name}.tmp`);
    const header = encodeHeader({ group: this.opts.group, seq, firstIndex, ...point });
    const size = Math.max(this.opts.segmentBytes, header.length);
    const fd = await openFd(tmp, 'w');
    try {
      await writeAll(fd, header, 0);
      this.zeros ??= Buffer.alloc(Math.min(1 << 20, this.opts.segmentBytes));
      // Real zeros, not a sparse ftruncate: the blocks are allocated now, so an fdatasync after
      // each append has no file size or extent to journal.
      for (let off = header.length; off < size; off += this.zeros.length) {
        await writeAll(fd, this.zeros.subarray(0, Math.min(this.zeros.length, size - off)), off);
      }
      await fullSync(fd);
    } finally {
      await closeFd(fd);
    }
    await rename(tmp, join(this.opts.dir, name));
    await syncDir(this.opts.dir);
    return { seq, firstIndex, name, end: header.length, headerEnd: header.length };
  }
}

/** Replays records into the log they describe (see segment-format.ts for their meaning). */
class LogReplay {
  private base = 0;
  private baseTerm = 0;
  private last = 0;
  private lastTerm = 0;
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  /** Index of entries[0]. Entries base+1..start-1 were in segments deleted by a compaction. */
  private start = 1;
  private entries: Entry[] = [];
  private seqs: number[] = [];
  private offsets: number[] = [];

  /** Starts from the first remaining segment's header. */
  init(h: SegmentHeader): void {
    this.base = h.baseIndex;
    this.baseTerm = h.baseTerm;
    this.last = h.lastIndex;
    this.lastTerm = h.lastTerm;
    this.hardState = h.hardState;
    this.start = h.lastIndex + 1;
  }

  /** A later segment's header must describe exactly the log replayed up to it. */
  checkHeader(h: SegmentHeader): string | undefined {
    const mine = `base ${this.base}/${this.baseTerm}, last ${this.last}/${this.lastTerm}, hard state ${JSON.stringify(this.hardState)}`;
    const its = `base ${h.baseIndex}/${h.baseTerm}, last ${h.lastIndex}/${h.lastTerm}, hard state ${JSON.stringify(h.hardState)}`;
    return mine === its ? undefined : `the segment header says [${its}] but the segments before it end at [${mine}]`;
  }

  /** Applies one record; returns a description of what is wrong with it, if anything. */
  apply(rec: LogRecord, seq: number, offset: number): string | undefined {
    switch (rec.type) {
      case 'header':
        return 'a segment header record in the middle of a segment';
      case 'batch': {
        if (rec.reset) {
          if (rec.reset.index <= this.base) return `a snapshot reset to ${rec.reset.index} is not above the base ${this.base}`;
          this.base = this.last = rec.reset.index;
          this.baseTerm = this.lastTerm = rec.reset.term;
          this.start = this.base + 1;
          this.entries = [];
          this.seqs = [];
          this.offsets = [];
        }
        const n = rec.entries.length;
        if (n > 0) {
          const i = rec.firstIndex;
          if (i <= this.base) return `entry ${i} is at or below the snapshot base ${this.base}`;
          if (i > this.last + 1) return `entry ${i} leaves a gap after the last index ${this.last}`;
          if (i < this.start) {
            this.start = i;
            this.entries.length = this.seqs.length = this.offsets.length = 0;
          } else {
            this.entries.length = this.seqs.length = this.offsets.length = i - this.start;
          }
          for (const e of rec.entries) {
            this.entries.push(e);
            this.seqs.push(seq);
            this.offsets.push(offset);
          }
          this.last = i + n - 1;
          this.lastTerm = rec.entries[n - 1]!.term;
        }
        if (rec.hardState) this.hardState = rec.hardState;
        return undefined;
      }
      case 'compact': {
        if (rec.index <= this.base || rec.index > this.last) return `a compaction to ${rec.index} outside the log ${this.base + 1}..${this.last}`;
        const known = rec.index >= this.start ? this.entries[rec.index - this.start]!.term : rec.index === this.last ? this.lastTerm : rec.term;
        if (known !== rec.term) return `a compaction to ${rec.index} at term ${rec.term}, but that entry has term ${known}`;
        if (rec.index >= this.start) {
          const drop = rec.index - this.start + 1;
          this.entries.splice(0, drop);
          this.seqs.splice(0, drop);
          this.offsets.splice(0, drop);
          this.start = rec.index + 1;
        }
        this.base = rec.index;
        this.baseTerm = rec.term;
        return undefined;
      }
    }
  }

  /** Describes entries that should be in the log but whose segments are gone, if any. */
  missing(): string | undefined {
    if (this.start <= this.base + 1) return undefined;
    return `log entries ${this.base + 1}..${this.start - 1} are missing: the segments that held them are gone`;
  }

  result(): ReplayedLog {
    return {
      baseIndex: this.base,
      baseTerm: this.baseTerm,
      lastIndex: this.last,
      lastTerm: this.lastTerm,
      hardState: this.hardState,
      entries: this.entries,
      seqs: this.seqs,
      offsets: this.offsets,
    };
  }
}

// Thin promise wrappers over the callback API: the append path runs per Ready, and the callback
// API costs less than fs/promises' FileHandle machinery.

function openFd(path: PathLike, flags: string): Promise<number> {
  return new Promise((res, rej) => open(path, flags, (err, fd) => (err ? rej(err) : res(fd))));
}

function closeFd(fd: number): Promise<void> {
  return new Promise((res, rej) => close(fd, (err) => (err ? rej(err) : res())));
}

function datasync(fd: number): Promise<void> {
  return new Promise((res, rej) => fdatasync(fd, (err) => (err ? rej(err) : res())));
}

function fullSync(fd: number): Promise<void> {
  return new Promise((res, rej) => fsync(fd, (err) => (err ? rej(err) : res())));
}

function readAt(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((res, rej) => read(fd, buf, off, len, pos, (err, n) => (err ? rej(err) : res(n))));
}

/** Writes all of `buf` at `pos` (a short write is continued). */
function writeAll(fd: number, buf: Uint8Array, pos: number): Promise<void> {
  return new Promise((res, rej) => {
    const step = (done: number): void => {
      write(fd, buf, done, buf.length - done, pos + done, (err, n) => {
        if (err) rej(err);
        else if (done + n < buf.length) step(done + n);
        else res();
      });
    };
    step(0);
  });
}

/** fsyncs a directory, making renames and unlinks in it durable. */
async function syncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, 'r');
  try {
    await fullSync(fd);
  } finally {
    await closeFd(fd);
  }
}
