/** A terse way to write hand-made histories in tests: one call per event, time advancing by 1. */

import { ManualClock } from '../../../src/common/clock.js';
import type { History } from '../checker/history.js';
import { HistoryRecorder } from '../checker/recorder.js';

/** A recorder on a manual clock that ticks once per event. */
export class HistoryBuilder {
  private readonly clock = new ManualClock();
  private readonly rec = new HistoryRecorder(this.clock);

  /** `process` invokes `f` with `value`. */
  inv(process: number, f: string, value: unknown = null): this {
    this.clock.advance(1);
    this.rec.invoke(process, f, value);
    return this;
  }
  /** The open op of `process` completes ok with `value`. */
  ok(process: number, value: unknown = null): this {
    this.clock.advance(1);
    this.rec.ok(process, value);
    return this;
  }
  /** The open op of `process` fails. */
  fail(process: number, value: unknown = null): this {
    this.clock.advance(1);
    this.rec.fail(process, value);
    return this;
  }
  /** The open op of `process` has an unknown outcome. */
  info(process: number, value: unknown = null): this {
    this.clock.advance(1);
    this.rec.info(process, value);
    return this;
  }
  /** Invoke then ok at once (a sequential op). */
  op(process: number, f: string, value: unknown, result: unknown = null): this {
    return this.inv(process, f, value).ok(process, result);
  }
  /** The history built so far. */
  build(): History {
    return this.rec.history();
  }
}
