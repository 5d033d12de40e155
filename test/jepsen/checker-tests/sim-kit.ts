/**
 * Shared machinery of the history generators: a seeded scheduler over client processes that
 * records invokes and completions, where each op takes effect (is "linearized") at a random moment
 * between its invoke and its completion, exactly as a correct sequential object would behave under
 * concurrency. Ops may also crash (`info`: they take effect later or never) or fail (never).
 */

import { ManualClock } from '../../../src/common/clock.js';
import { SeededRng } from '../../../src/common/rng.js';
import type { History } from '../checker/history.js';
import { HistoryRecorder } from '../checker/recorder.js';

/** A generated history, and where its fault (if any) was planted: among the concurrent ops, or appended after them. */
export interface Simulated {
  readonly history: History;
  readonly planted: 'none' | 'during' | 'after';
}

/** Knobs of a generated history. */
export interface SimParams {
  readonly seed: number;
  /** Concurrent client processes. */
  readonly processes: number;
  /** Scheduler steps (each records at most a few events). */
  readonly steps: number;
  /** Probability that a completion is `info` instead of its real outcome. */
  readonly infoRate: number;
  /** Probability weight of failing an op that has not taken effect. */
  readonly failRate: number;
}

/** Where an op is in its life. */
export type SimOpState = 'pending' | 'linearized' | 'ghost' | 'done' | 'dropped';

/** The bookkeeping every simulated op carries. */
export interface SimOp {
  readonly pid: number;
  readonly f: string;
  readonly invokeIdx: number;
  state: SimOpState;
  okIdx?: number;
  /** The ok value to record once it completes. */
  result?: unknown;
}

/** A client process: its number and the op it has in flight. */
export interface SimProcess<O extends SimOp> {
  readonly pid: number;
  op: O | undefined;
}

/** An action the scheduler may take now, with a weight. */
export interface SimAction {
  readonly weight: number;
  readonly run: () => void;
}

/** The scheduler core: processes, recorder, and the generic transitions. */
export class Sim<O extends SimOp> {
  readonly rng: SeededRng;
  readonly procs: SimProcess<O>[] = [];
  readonly ghosts: O[] = [];
  readonly ops: O[] = [];
  private readonly clock = new ManualClock();
  private readonly rec = new HistoryRecorder(this.clock);
  private nextPid = 0;
  private nextIndex = 0;

  /**
   * Hooks: `onComplete` sees every op completed ok, after it is recorded (so a client learns its
   * token); `onCrash` sees a crashed process and the fresh one that replaces it; `blocked` tells
   * whether an op cannot take effect now (e.g. an acquire while the lock is held), so the scheduler
   * does not waste steps on it.
   */
  constructor(
    readonly params: SimParams,
    private readonly hooks: {
      readonly onComplete?: (pid: number, op: O) => void;
      readonly onCrash?: (oldPid: number, newPid: number) => void;
      readonly blocked?: (op: O) => boolean;
    } = {},
  ) {
    this.rng = new SeededRng(params.seed);
    for (let i = 0; i < params.processes; i++) this.procs.push(this.spawn());
  }

  /** A new process (not added to `procs`). */
  spawn(): SimProcess<O> {
    return { pid: this.nextPid++, op: undefined };
  }

  /** A uniformly chosen element, or undefined when empty. */
  pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.rng.int(xs.length)];
  }

  /** Records the invoke of `make(invokeIdx)` on `proc`. */
  invoke(proc: SimProcess<O>, f: string, value: unknown, make: (invokeIdx: number) => O): O {
    this.clock.advance(1);
    const ev = this.rec.invoke(proc.pid, f, value);
    this.nextIndex = ev.index + 1;
    const op = make(ev.index);
    proc.op = op;
    this.ops.push(op);
    return op;
  }

  /** Records the ok completion of a linearized op. */
  complete(proc: SimProcess<O>): void {
    const op = proc.op;
    if (op === undefined || op.state !== 'linearized') throw new Error('complete: no linearized op');
    this.clock.advance(1);
    op.okIdx = this.rec.ok(proc.pid, op.result ?? null).index;
    this.nextIndex = op.okIdx + 1;
    op.state = 'done';
    proc.op = undefined;
    this.hooks.onComplete?.(proc.pid, op);
  }

  /** Records an info completion; the process is replaced by a fresh one. A not-yet-applied op becomes a ghost. */
  crash(proc: SimProcess<O>): void {
    const op = proc.op;
    if (op === undefined) throw new Error('crash: nothing in flight');
    this.clock.advance(1);
    this.nextIndex = this.rec.info(proc.pid, null, 'simulated timeout').index + 1;
    if (op.state === 'pending') {
      op.state = 'ghost';
      this.ghosts.push(op);
    }
    const i = this.procs.indexOf(proc);
    if (i >= 0) {
      const next = this.spawn();
      this.procs[i] = next;
      this.hooks.onCrash?.(proc.pid, next.pid);
    }
  }

  /** Records a fail completion of an op that never took effect. */
  fail(proc: SimProcess<O>): void {
    const op = proc.op;
    if (op === undefined || op.state !== 'pending') throw new Error('fail: op already applied');
    this.clock.advance(1);
    this.nextIndex = this.rec.fail(proc.pid, null, 'simulated failure').index + 1;
    op.state = 'dropped';
    proc.op = undefined;
  }

  /** The index the next recorded event will get. */
  get now(): number {
    return this.nextIndex;
  }

  /**
   * The generic actions: invoke on an idle process (via `start`), apply a pending op (via `apply`,
   * which returns false when the op cannot take effect now), complete or crash an applied op, crash
   * or fail a pending one, apply a ghost.
   */
  genericActions(start: (proc: SimProcess<O>) => void, apply: (op: O) => boolean): SimAction[] {
    const acts: SimAction[] = [];
    const { infoRate, failRate } = this.params;
    for (const proc of this.procs) {
      const op = proc.op;
      if (op === undefined) acts.push({ weight: 3, run: () => start(proc) });
      else if (op.state === 'pending') {
        if (!this.hooks.blocked?.(op)) acts.push({ weight: 3, run: () => void apply(op) });
        if (infoRate > 0) acts.push({ weight: infoRate * 2, run: () => this.crash(proc) });
        if (failRate > 0) acts.push({ weight: failRate * 2, run: () => this.fail(proc) });
      } else if (op.state === 'linearized') {
        acts.push({ weight: 3 * (1 - infoRate), run: () => this.complete(proc) });
        if (infoRate > 0) acts.push({ weight: 3 * infoRate, run: () => this.crash(proc) });
      }
    }
    for (const g of this.ghosts) {
      if (g.state === 'ghost' && !this.hooks.blocked?.(g)) acts.push({ weight: 0.3, run: () => void apply(g) });
    }
    return acts;
  }

  /** Runs one weighted-random action; false when none was possible. */
  runOne(acts: readonly SimAction[]): boolean {
    const total = acts.reduce((s, a) => s + a.weight, 0);
    if (total <= 0) return false;
    let x = this.rng.next() * total;
    for (const a of acts) {
      x -= a.weight;
      if (x < 0) {
        a.run();
        return true;
      }
    }
    acts[acts.length - 1]?.run();
    return true;
  }

  /**
   * Runs a whole op right now: invoke, apply, complete, on `proc` or else on a fresh process that
   * then joins the others. `make` gets the pid and invoke index.
   */
  immediate(f: string, value: unknown, make: (pid: number, invokeIdx: number) => O, apply: (op: O) => void, proc?: SimProcess<O>): O {
    const p = proc ?? this.spawn();
    if (proc === undefined) this.procs.push(p);
    const op = this.invoke(p, f, value, (i) => make(p.pid, i));
    apply(op);
    this.complete(p);
    return op;
  }

  /** The recorded history. */
  history(): History {
    return this.rec.history();
  }
}

/** fast-check-free parameter sets for the sims, derived from a seed (used by the performance test). */
export function paramsOf(seed: number, processes: number, steps: number, infoRate = 0.05, failRate = 0.05): SimParams {
  return { seed, processes, steps, infoRate, failRate };
}
