/**
 * "The highest token among events before position p": the question every real-time token check
 * asks (e.g. a grant invoked after a higher token was acknowledged is definitely late).
 */

/** Something that carries a token. */
export interface Tokened {
  readonly token: number;
}

/** Answers `before(p)` in O(log n) over a fixed set of items placed at history positions. */
export class HighestBefore<T extends Tokened> {
  private readonly sorted: T[];
  private readonly positions: number[];
  private readonly best: T[];

  /** `at(item)` is the item's position (e.g. its completion index); items at infinity are ignored. */
  constructor(items: Iterable<T>, at: (item: T) => number) {
    this.sorted = [...items].filter((i) => Number.isFinite(at(i))).sort((a, b) => at(a) - at(b));
    this.positions = this.sorted.map(at);
    this.best = [];
    let top: T | undefined;
    for (const item of this.sorted) {
      if (top === undefined || item.token > top.token) top = item;
      this.best.push(top);
    }
  }

  /** The item with the highest token (the earliest such) among those placed strictly before `position`. */
  before(position: number): T | undefined {
    let lo = 0;
    let hi = this.positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.positions[mid] ?? Infinity) < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : this.best[lo - 1];
  }
}

/** Groups items by a key, keeping input order within each group. */
export function groupBy<T>(items: Iterable<T>, key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(item);
  }
  return out;
}
