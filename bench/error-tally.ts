/** Errors of a workload run: a count and the first few distinct messages for the report's notes. */
import { describeError } from './workload-env.js';

/** Error tally of a run: how many, and the first few distinct messages. */
export class ErrorTally {
  count = 0;
  private readonly samples = new Set<string>();

  /** Counts `err` (when `counted`) and keeps its message if it is one of the first 3 distinct. */
  add(err: unknown, counted: boolean): void {
    if (counted) this.count++;
    if (this.samples.size < 3) this.samples.add(describeError(err));
  }

  /** Notes for the report. */
  notes(): string[] {
    return this.samples.size === 0 ? [] : [`errors seen (first ${this.samples.size}): ${[...this.samples].join(' | ')}`];
  }
}
