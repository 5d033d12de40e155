/**
 * The bounded in-memory ring of Watch events (DESIGN §4). Events are appended in index order; when
 * full the oldest is dropped and `droppedThrough` remembers its index, so a watcher asking for an
 * index at or below it learns it fell behind (`WATCH_COMPACTED`) instead of silently missing events.
 */
import type { LockEvent } from './types.js';

/** A fixed-capacity, index-ordered event buffer. */
export class EventRing {
  private buf: LockEvent[] = [];
  private start = 0;
  private dropped = 0;

  constructor(readonly capacity: number) {}

  /** Rebuilds a ring from snapshot data (keeps the newest `capacity` events). */
  static from(events: readonly LockEvent[], droppedThrough: number, capacity: number): EventRing {
    const r = new EventRing(capacity);
    r.dropped = droppedThrough;
    for (const e of events) r.push({ ...e });
    return r;
  }

  /** Appends `e`; its index must not be below the newest event's. */
  push(e: LockEvent): void {
    this.buf.push(e);
    if (this.buf.length - this.start > this.capacity) {
      const old = this.buf[this.start];
      if (old !== undefined) this.dropped = Math.max(this.dropped, old.index);
      this.start++;
      if (this.start >= this.capacity) {
        this.buf = this.buf.slice(this.start);
        this.start = 0;
      }
    }
  }

  /** The index of the newest dropped event (0 when none was dropped). */
  get droppedThrough(): number {
    return this.dropped;
  }

  /** Number of retained events. */
  get size(): number {
    return this.buf.length - this.start;
  }

  /** Retained events, oldest first (copies). */
  toArray(): LockEvent[] {
    return this.buf.slice(this.start).map((e) => ({ ...e }));
  }

  /**
   * Events with `index >= fromIndex` whose name starts with `prefix` (session events, which have no
   * name, only when `prefix` is empty); undefined when some such event may have been dropped.
   */
  since(fromIndex: number, prefix: string): LockEvent[] | undefined {
    if (this.dropped > 0 && fromIndex <= this.dropped) return undefined;
    let lo = this.start;
    let hi = this.buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.buf[mid];
      if (e !== undefined && e.index < fromIndex) lo = mid + 1;
      else hi = mid;
    }
    const out: LockEvent[] = [];
    for (let i = lo; i < this.buf.length; i++) {
      const e = this.buf[i];
      if (e === undefined) continue;
      if (prefix === '' || (e.name !== undefined && e.name.startsWith(prefix))) out.push({ ...e });
    }
    return out;
  }
}
