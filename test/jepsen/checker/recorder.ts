/**
 * Builds a history as a test runs: stamps each event with the next index and the clock's time,
 * and enforces the pairing rules as it goes (so a harness bug surfaces where it happens).
 */

import type { Clock } from '../../../src/common/clock.js';
import { HistoryError } from './history-error.js';
import type { CompletionType, History, Op } from './history.js';
import { canonicalJson } from './values.js';

/** Records invokes and completions into an in-memory history. */
export class HistoryRecorder {
  private readonly log: Op[] = [];
  private readonly open = new Map<number, string>();
  private readonly crashed = new Set<number>();
  private lastTime = 0;

  /** `clock` stamps `time`; `onOp` (e.g. a `HistoryFileWriter`'s append) sees every op as it is recorded. */
  constructor(
    private readonly clock: Clock,
    private readonly onOp?: (op: Op) => void,
  ) {}

  /**
   * Records that `process` invoked `f` with `value`; the process must have nothing open and not have
   * crashed. Values must be JSON (a HistoryError otherwise, with nothing recorded).
   */
  invoke(process: number, f: string, value: unknown = null): Op {
    canonicalJson(value);
    if (this.open.has(process)) throw new HistoryError(`process ${process} invoked ${f} while its ${this.open.get(process)} is open`);
    if (this.crashed.has(process)) throw new HistoryError(`process ${process} invoked ${f} after an info op; use a new process number`);
    this.open.set(process, f);
    return this.push({ process, type: 'invoke', f, value });
  }

  /** Records that the open op of `process` took effect with result `value`. */
  ok(process: number, value: unknown = null): Op {
    return this.complete(process, 'ok', value);
  }

  /** Records that the open op of `process` definitely did not take effect. */
  fail(process: number, value: unknown = null, error?: string): Op {
    return this.complete(process, 'fail', value, error);
  }

  /** Records that the outcome of the open op of `process` is unknown; the process may not invoke again. */
  info(process: number, value: unknown = null, error?: string): Op {
    return this.complete(process, 'info', value, error);
  }

  /** True when `process` has an op in flight. */
  isOpen(process: number): boolean {
    return this.open.has(process);
  }

  /** The history so far (a copy). */
  history(): History {
    return this.log.slice();
  }

  private complete(process: number, type: CompletionType, value: unknown, error?: string): Op {
    const f = this.open.get(process);
    if (f === undefined) throw new HistoryError(`${type} for process ${process}, which has no open invoke`);
    canonicalJson(value);
    this.open.delete(process);
    if (type === 'info') this.crashed.add(process);
    return this.push(error === undefined ? { process, type, f, value } : { process, type, f, value, error });
  }

  private push(partial: Omit<Op, 'time' | 'index'>): Op {
    const time = Math.max(this.lastTime, this.clock.now());
    this.lastTime = time;
    const op: Op = { ...partial, time, index: this.log.length };
    this.log.push(op);
    this.onOp?.(op);
    return op;
  }
}
