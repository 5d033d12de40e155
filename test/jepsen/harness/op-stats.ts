/**
 * Op counts and latencies of a history, kept up to date as ops are recorded (for the progress
 * line) and summarised at the end (for the verdict table and the plot). Pure.
 */
import type { CompletionType, Op } from '../checker/index.js';

/** Counts of one op function. */
export interface OpCounts {
  ok: number;
  fail: number;
  info: number;
  /** Invoked and not (yet) completed. */
  open: number;
}

/** One completed op on the latency plot. */
export interface LatencyPoint {
  readonly f: string;
  readonly outcome: CompletionType;
  /** Invoke time, ms since the run's origin. */
  readonly at: number;
  readonly latencyMs: number;
}

/** Ops that are not requests to the cluster (observations, the harness's own register): counted, but kept off the latency plot. */
const OFF_PLOT = new Set(['held', 'observe', 'read', 'write', 'session-lease', 'session-expired']);

/** Accumulates counts and latencies; feed it every op in order. */
export class OpStats {
  private readonly counts = new Map<string, OpCounts>();
  private readonly openSince = new Map<number, number>();
  private readonly points: LatencyPoint[] = [];
  private total = 0;

  /** Records one op. */
  add(op: Op): void {
    const c = this.countsOf(op.f);
    if (op.type === 'invoke') {
      c.open++;
      this.openSince.set(op.process, op.time);
      return;
    }
    this.total++;
    c.open = Math.max(0, c.open - 1);
    c[op.type]++;
    const start = this.openSince.get(op.process);
    this.openSince.delete(op.process);
    if (start !== undefined && !OFF_PLOT.has(op.f)) this.points.push({ f: op.f, outcome: op.type, at: start, latencyMs: op.time - start });
  }

  /** Completed ops so far. */
  get completed(): number {
    return this.total;
  }

  /** Counts per op function, sorted by name. */
  byFunction(): Array<readonly [string, Readonly<OpCounts>]> {
    return [...this.counts].sort(([a], [b]) => a.localeCompare(b));
  }

  /** Totals over every function. */
  totals(): Readonly<OpCounts> {
    const t: OpCounts = { ok: 0, fail: 0, info: 0, open: 0 };
    for (const c of this.counts.values()) {
      t.ok += c.ok;
      t.fail += c.fail;
      t.info += c.info;
      t.open += c.open;
    }
    return t;
  }

  /** Every latency point, in completion order. */
  latencies(): readonly LatencyPoint[] {
    return this.points;
  }

  private countsOf(f: string): OpCounts {
    let c = this.counts.get(f);
    if (!c) this.counts.set(f, (c = { ok: 0, fail: 0, info: 0, open: 0 }));
    return c;
  }
}
