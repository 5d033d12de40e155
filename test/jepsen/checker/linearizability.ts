/**
 * Linearizability checking: the Wing–Gong search with Lowe's just-in-time linearization and
 * memoisation of (linearized set, model state) pairs, as Porcupine does it (Horn & Kroening,
 * "Faster linearizability checking via P-compositionality"; Lowe, "Testing for linearizability").
 *
 * Ops are laid out as call and return events in real-time order in a doubly linked list. The
 * search walks the list from its head: at a call it tries to apply the op to the model; if that
 * is legal and the (linearized set, state) pair is new, it lifts the op's call and return out of
 * the list and restarts from the head. Reaching a return means that op had to be linearized
 * already: it backtracks by popping the last lifted op and trying the next call after it.
 * An op with an unknown outcome has its return at infinity, so it may be linearized at any
 * point after its call, or never; the search succeeds once every op with a known outcome is in.
 */

import { systemClock, type Clock } from '../../../src/common/clock.js';
import { HistoryError } from './history-error.js';
import { pairHistory, type History } from './history.js';
import type { Model } from './model.js';
import { brief } from './values.js';

/** One op ready for the search. */
export interface LinOperation<I, O> {
  /** Stable id for reports (the paired-op id when built from a history). */
  readonly id: number;
  readonly process: number;
  readonly f: string;
  readonly input: I;
  /** The observed result; ignored (and best left undefined) when the outcome is unknown. */
  readonly output: O | undefined;
  /** Real-time position of the call. */
  readonly start: number;
  /** Real-time position of the return; `Infinity` exactly when the outcome is unknown. */
  readonly end: number;
}

/** Options of a check. */
export interface LinearizabilityOptions {
  /** Give up (result `unknown`) after this long; default 60 000 ms. */
  readonly timeoutMs?: number;
  /** Source of time for the timeout; default the process's monotonic clock. */
  readonly clock?: Clock;
}

/** An op as shown in a failure report. */
export interface LinOpView {
  readonly id: number;
  readonly process: number;
  readonly f: string;
  readonly input: unknown;
  /** Undefined when the outcome is unknown. */
  readonly output: unknown;
  readonly start: number;
  /** `Infinity` when the outcome is unknown. */
  readonly end: number;
  /** One-line rendering. */
  readonly text: string;
}

/**
 * Why a partition is not linearizable, in the smallest window that shows it: the deepest partial
 * linearization the search found, the model state after it, the first op that then could not be
 * linearized (its return came before it could be placed), and the other unplaced ops concurrent
 * with it (none of which could be placed first to make room either).
 */
export interface LinearizabilityFailure {
  readonly partition: string;
  /** The longest linearizable prefix, in linearization order. */
  readonly prefix: readonly LinOpView[];
  /** The model state after `prefix`. */
  readonly state: string;
  /** The op that cannot be linearized after `prefix`. */
  readonly stuck: LinOpView;
  /** Every other op whose real-time window overlaps `stuck`'s, in call order, and whether it is in `prefix`. */
  readonly concurrent: ReadonlyArray<LinOpView & { readonly inPrefix: boolean }>;
  /** Real-time positions spanning `stuck` and `concurrent`. */
  readonly window: { readonly from: number; readonly to: number };
}

/** The verdict for one partition. */
export type PartitionResult =
  | { readonly valid: true; readonly partition: string; readonly ops: number; readonly steps: number }
  | { readonly valid: false; readonly partition: string; readonly ops: number; readonly steps: number; readonly failure: LinearizabilityFailure }
  | { readonly valid: 'unknown'; readonly partition: string; readonly ops: number; readonly steps: number; readonly reason: 'timeout' };

/** The verdict of a linearizability check. `true` only when every partition was fully checked. */
export interface LinearizabilityResult {
  readonly type: 'linearizability';
  readonly model: string;
  /** False if any partition is not linearizable; otherwise unknown if any timed out. */
  readonly valid: boolean | 'unknown';
  readonly partitions: readonly PartitionResult[];
  /** The failure of the first non-linearizable partition, if any. */
  readonly failure: LinearizabilityFailure | null;
  /** Ops checked (`fail` ops are dropped before). */
  readonly ops: number;
  /** Search steps over all partitions. */
  readonly steps: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const CLOCK_EVERY = 256;

/**
 * Checks a history against `model`. `fail` ops are dropped (they did not happen); `info` and
 * never-completed ops may take effect at any point after their invoke, or never.
 * Throws HistoryError when the history or an op value is malformed.
 */
export function checkLinearizability<S, I, O>(model: Model<S, I, O>, history: History, options: LinearizabilityOptions = {}): LinearizabilityResult {
  const ops: LinOperation<I, O>[] = [];
  for (const p of pairHistory(history)) {
    if (p.outcome === 'fail') continue;
    const known = p.outcome === 'ok';
    let decoded;
    try {
      decoded = model.decode(p.f, p.invoke.value, p.completion?.value ?? null, known);
    } catch (err) {
      if (!(err instanceof HistoryError)) throw err;
      const detail = err.message;
      throw new HistoryError(`${model.name} model cannot decode ${p.f} of process ${p.process}: ${detail}`, { index: (known ? p.completion?.index : undefined) ?? p.invoke.index, cause: err });
    }
    ops.push({ id: p.id, process: p.process, f: p.f, input: decoded.input, output: known ? decoded.output : undefined, start: p.start, end: known ? p.end : Infinity });
  }
  return checkOperations(model, ops, options);
}

/** Checks already-decoded ops against `model` (see `checkLinearizability`). */
export function checkOperations<S, I, O>(model: Model<S, I, O>, ops: readonly LinOperation<I, O>[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs >= 0)) throw new RangeError(`timeoutMs must be >= 0, got ${timeoutMs}`);
  const deadline = clock.now() + timeoutMs;
  const groups = new Map<string, LinOperation<I, O>[]>();
  for (const op of ops) {
    if (!(op.start < op.end)) throw new HistoryError(`op ${op.id} returns (${op.end}) before it is called (${op.start})`);
    const key = model.partition ? model.partition(op.input) : '';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(op);
  }
  const partitions: PartitionResult[] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key) ?? [];
    if (clock.now() > deadline) {
      partitions.push({ valid: 'unknown', partition: key, ops: group.length, steps: 0, reason: 'timeout' });
      continue;
    }
    partitions.push(searchPartition(model, key, group, clock, deadline));
  }
  const firstFailure = partitions.find((p): p is Extract<PartitionResult, { valid: false }> => p.valid === false);
  const valid = firstFailure ? false : partitions.some((p) => p.valid === 'unknown') ? 'unknown' : true;
  return {
    type: 'linearizability',
    model: model.name,
    valid,
    partitions,
    failure: firstFailure?.failure ?? null,
    ops: ops.length,
    steps: partitions.reduce((n, p) => n + p.steps, 0),
  };
}

/** The search over one partition. */
function searchPartition<S, I, O>(model: Model<S, I, O>, key: string, ops: readonly LinOperation<I, O>[], clock: Clock, deadline: number): PartitionResult {
  const n = ops.length;
  // Events 0..2n-1: 2i is op i's call, 2i+1 its return; HEAD is the sentinel.
  const HEAD = 2 * n;
  const order: number[] = [];
  for (let i = 0; i < 2 * n; i++) order.push(i);
  const pos = (e: number): number => {
    const op = ops[e >> 1];
    return op === undefined ? 0 : e & 1 ? op.end : op.start;
  };
  order.sort((a, b) => pos(a) - pos(b) || (a & 1) - (b & 1) || a - b);
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = HEAD;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  const unlink = (e: number): void => {
    const p = prev[e] as number;
    const q = next[e] as number;
    next[p] = q;
    if (q !== -1) prev[q] = p;
  };
  const relink = (e: number): void => {
    const p = prev[e] as number;
    const q = next[e] as number;
    next[p] = e;
    if (q !== -1) prev[q] = e;
  };
  const lift = (call: number): void => {
    unlink(call);
    unlink(call + 1);
  };
  const unlift = (call: number): void => {
    relink(call + 1);
    relink(call);
  };

  const bits = new Uint32Array(Math.ceil(n / 32) || 1);
  const flip = (i: number): void => {
    bits[i >> 5] = (bits[i >> 5] as number) ^ (1 << (i & 31));
  };
  const bitsKey = (): string => {
    let s = '';
    for (const w of bits) s += String.fromCharCode(w & 0xffff, w >>> 16);
    return s;
  };
  const cache = new Map<string, S[]>();
  /** Adds (bits, state) to the cache; false when it was already there. */
  const remember = (state: S): boolean => {
    const k = `${bitsKey()}|${model.hash(state)}`;
    const bucket = cache.get(k);
    if (!bucket) {
      cache.set(k, [state]);
      return true;
    }
    if (bucket.some((s) => model.equal(s, state))) return false;
    bucket.push(state);
    return true;
  };

  let state = model.init();
  const stackCalls: number[] = [];
  const stackStates: S[] = [];
  // An op whose return is at infinity has an unknown outcome: it is stepped with no output and
  // need not be linearized for the search to succeed.
  const known = (i: number): boolean => (ops[i]?.end ?? Infinity) !== Infinity;
  let remaining = 0;
  for (let i = 0; i < n; i++) if (known(i)) remaining++;

  let best: Best<S> | undefined;
  const recordBest = (): void => {
    // The first return left in the list is the op that must be placed next.
    let stuck = -1;
    for (let e = next[HEAD] as number; e !== -1; e = next[e] as number) {
      if (e & 1) {
        stuck = e >> 1;
        break;
      }
    }
    best = { depth: stackCalls.length, prefix: stackCalls.map((c) => c >> 1), state, stuck };
  };
  recordBest();

  let steps = 0;
  let entry = next[HEAD] as number;
  for (;;) {
    if (remaining === 0) return { valid: true, partition: key, ops: n, steps };
    steps++;
    if (steps % CLOCK_EVERY === 0 && clock.now() > deadline) return { valid: 'unknown', partition: key, ops: n, steps, reason: 'timeout' };
    if (entry !== -1 && (entry & 1) === 0) {
      const i = entry >> 1;
      const op = ops[i] as LinOperation<I, O>;
      const r = model.step(state, op.input, op.end === Infinity ? undefined : op.output);
      if (r.ok) {
        flip(i);
        if (remember(r.state)) {
          stackCalls.push(entry);
          stackStates.push(state);
          state = r.state;
          lift(entry);
          if (known(i)) remaining--;
          if (best === undefined || stackCalls.length > best.depth) recordBest();
          entry = next[HEAD] as number;
          continue;
        }
        flip(i);
      }
      entry = next[entry] as number;
      continue;
    }
    // A return (or, defensively, the end of the list): backtrack.
    const call = stackCalls.pop();
    const before = stackStates.pop();
    if (call === undefined || before === undefined) return { valid: false, partition: key, ops: n, steps, failure: failureOf(model, key, ops, best) };
    const i = call >> 1;
    flip(i);
    state = before;
    unlift(call);
    if (known(i)) remaining++;
    entry = next[call] as number;
  }
}

/** The deepest partial linearization found, and the op it got stuck on. */
interface Best<S> {
  readonly depth: number;
  readonly prefix: number[];
  readonly state: S;
  readonly stuck: number;
}

function failureOf<S, I, O>(model: Model<S, I, O>, key: string, ops: readonly LinOperation<I, O>[], best: Best<S> | undefined): LinearizabilityFailure {
  const view = (i: number): LinOpView => {
    const op = ops[i] as LinOperation<I, O>;
    const body = model.describeOp ? model.describeOp(op.input, op.output) : `${op.f} ${brief(op.input)} -> ${op.output === undefined ? '?' : brief(op.output)}`;
    const span = op.end === Infinity ? `[${op.start}..]` : `[${op.start}..${op.end}]`;
    return { id: op.id, process: op.process, f: op.f, input: op.input, output: op.output, start: op.start, end: op.end, text: `#${op.id} p${op.process} ${body} ${span}` };
  };
  const prefix = (best?.prefix ?? []).map(view);
  const stuckIndex = best && best.stuck >= 0 ? best.stuck : 0;
  const stuck = view(stuckIndex);
  const inPrefix = new Set(best?.prefix ?? []);
  const concurrent = ops
    .map((op, i) => ({ op, i }))
    .filter(({ op, i }) => i !== stuckIndex && op.start < stuck.end && stuck.start < op.end)
    .sort((a, b) => a.op.start - b.op.start)
    .map(({ i }) => ({ ...view(i), inPrefix: inPrefix.has(i) }));
  const from = Math.min(stuck.start, ...concurrent.map((c) => c.start));
  const st = best ? best.state : model.init();
  return { partition: key, prefix, state: model.describeState ? model.describeState(st) : model.hash(st), stuck, concurrent, window: { from, to: stuck.end } };
}

/** How many prefix ops a rendering shows before eliding. */
const PREFIX_SHOWN = 12;

/** A human-readable rendering of a result: the verdict, per-partition lines, and the failure window. */
export function renderLinearizability(result: LinearizabilityResult): string {
  const verdict = result.valid === true ? 'linearizable' : result.valid === false ? 'NOT linearizable' : 'UNKNOWN (search timed out)';
  const lines = [`${result.model} model: ${verdict} (${result.ops} ops, ${result.partitions.length} partition(s), ${result.steps} search steps)`];
  for (const p of result.partitions) {
    if (p.valid === 'unknown') lines.push(`  partition ${JSON.stringify(p.partition)}: unknown (timed out after ${p.steps} steps, ${p.ops} ops)`);
    else if (p.valid === false) lines.push(`  partition ${JSON.stringify(p.partition)}: NOT linearizable (${p.ops} ops)`);
  }
  const f = result.failure;
  if (f) {
    lines.push(`failure in partition ${JSON.stringify(f.partition)}:`);
    lines.push(`  longest linearizable prefix: ${f.prefix.length} op(s), leaving state ${f.state}`);
    const shown = f.prefix.slice(-PREFIX_SHOWN);
    if (f.prefix.length > shown.length) lines.push(`    … ${f.prefix.length - shown.length} earlier op(s)`);
    for (const op of shown) lines.push(`    ${op.text}`);
    lines.push(`  cannot be linearized next: ${f.stuck.text}`);
    if (f.concurrent.length === 0) lines.push('  no other op was concurrent with it');
    else {
      lines.push(`  ops concurrent with it (${f.concurrent.length}); no order of those outside the prefix makes room:`);
      for (const op of f.concurrent) lines.push(`    ${op.text}${op.inPrefix ? '  (in prefix)' : ''}`);
    }
    lines.push(`  window: history positions ${f.window.from}..${f.window.to === Infinity ? '∞' : f.window.to}`);
  }
  return lines.join('\n');
}
