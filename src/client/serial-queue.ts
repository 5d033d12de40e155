/**
 * Runs async tasks one at a time, in call order. A session's mutating calls go through one queue:
 * the server keeps a single `(requestSeq, result)` slot per session, so a retry is only
 * deduplicated while no later seq has been sent (DESIGN §4, exactly once).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private active = 0;

  /** Runs `task` after every task queued before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.active++;
    const result = this.tail.then(task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.tail = settled.then(() => {
      this.active--;
    });
    return result;
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.active;
  }
}
