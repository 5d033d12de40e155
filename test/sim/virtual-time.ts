/**
 * Virtual time for running the production node and service code deterministically: one Clock and
 * one Scheduler for every simulated process. Callbacks run one at a time in (time, insertion)
 * order; after each one every promise it started settles before the next (a real macrotask turn
 * drains the microtask queue), so a run is fully determined by what was scheduled.
 */
import type { Clock } from '../../src/common/clock.js';
import type { Scheduler, TimerHandle } from '../../src/common/timers.js';
import { EventQueue } from './event-queue.js';

interface Job {
  readonly fn: () => void;
  cancelled: boolean;
}

/** A virtual clock with its own timers; time moves only inside `runUntil`. */
export class VirtualTime implements Clock, Scheduler {
  private t = 0;
  private readonly q = new EventQueue<Job>();
  /** Callbacks run so far. */
  steps = 0;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const job: Job = { fn, cancelled: false };
    this.q.push(this.t + Math.max(0, ms), job);
    return job;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as Job).cancelled = true;
  }

  defer(fn: () => void): void {
    this.q.push(this.t, { fn, cancelled: false });
  }

  /** Resolves after `ms` of virtual time. */
  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.setTimeout(r, ms));
  }

  /** Runs every callback due up to `end` (then sets the clock to `end`); `onStep` runs after each. */
  async runUntil(end: number, onStep?: () => void): Promise<void> {
    for (;;) {
      const at = this.q.peekTime();
      if (at === undefined || at > end) break;
      const next = this.q.pop();
      if (next === undefined || next.ev.cancelled) continue;
      this.t = Math.max(this.t, next.at);
      this.steps++;
      next.ev.fn();
      await settle();
      onStep?.();
    }
    this.t = Math.max(this.t, end);
  }

  /** Awaits `p` while virtual time runs on (at most `limitMs`); rejects if it is still pending then. */
  async until<T>(p: Promise<T>, limitMs = 60_000): Promise<T> {
    let done = false;
    const mark = (): void => {
      done = true;
    };
    p.then(mark, mark);
    const end = this.t + limitMs;
    while (!done && this.t < end) await this.runUntil(Math.min(end, this.t + 10));
    if (!done) throw new Error(`still pending after ${limitMs} virtual ms`);
    return p;
  }
}

/** Lets every pending promise callback run (one real macrotask turn). */
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
