/**
 * A min-heap of timed events for the simulator: ordered by virtual time, then by insertion
 * order, so a run is fully determined by the seed.
 */

/** One scheduled event. */
export interface Timed<T> {
  readonly at: number;
  readonly seq: number;
  readonly ev: T;
}

/** Binary min-heap on (at, seq). */
export class EventQueue<T> {
  private readonly heap: Timed<T>[] = [];
  private seq = 0;

  /** Number of queued events. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules `ev` at virtual time `at`. */
  push(at: number, ev: T): void {
    const item = { at, seq: this.seq++, ev };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p];
      if (parent === undefined || !less(item, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = item;
  }

  /** Removes and returns the earliest event. */
  pop(): Timed<T> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      const hl = h[l];
      const hr = h[r];
      if (hl !== undefined && less(hl, best)) {
        m = l;
        best = hl;
      }
      if (hr !== undefined && less(hr, best)) {
        m = r;
        best = hr;
      }
      if (m === i) break;
      h[i] = best;
      i = m;
    }
    h[i] = last;
    return top;
  }

  /** The earliest event's time, if any. */
  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }
}

function less<T>(a: Timed<T>, b: Timed<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
