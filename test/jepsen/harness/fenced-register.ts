/**
 * The fencing-checked resource the mutex workload protects, held by the harness process: one
 * register per key that accepts a write only with a token at least the highest it has accepted
 * (Chubby §2.4; Kleppmann, "How to do distributed locking"). Pure and synchronous, so each
 * write is atomic in the history.
 */

interface Cell {
  highest: number | null;
  value: unknown;
}

/** Registers keyed by name; see the file comment. */
export class FencedRegister {
  private readonly cells = new Map<string, Cell>();

  /** `fenced: false` plants a fault: every write is accepted (for checking the checkers on real runs). */
  constructor(private readonly fenced = true) {}

  /** Accepts `value` iff `token` >= the highest token accepted for `key`; returns whether it did. */
  write(key: string, token: number, value: unknown): boolean {
    if (!Number.isSafeInteger(token)) throw new RangeError(`a fencing token must be a safe integer, got ${token}`);
    const cell = this.cells.get(key) ?? { highest: null, value: null };
    if (this.fenced && cell.highest !== null && token < cell.highest) return false;
    this.cells.set(key, { highest: cell.highest === null ? token : Math.max(cell.highest, token), value });
    return true;
  }

  /** The current value of `key` (null before any accepted write). */
  read(key: string): unknown {
    return this.cells.get(key)?.value ?? null;
  }

  /** The highest accepted token of `key`, or null. */
  highest(key: string): number | null {
    return this.cells.get(key)?.highest ?? null;
  }
}
