/**
 * The Jepsen-style history format (Knossos conventions).
 *
 * A history is a sequence of ops in the order they happened. Each op is an `invoke` or a
 * completion (`ok`, `fail`, `info`) of one process. An invoke is completed by the next completion
 * of the same process, with the same `f`. Meanings of the completions:
 * - `ok`: the op took effect, and `value` is its result;
 * - `fail`: the op definitely did not take effect (it constrains nothing and is dropped);
 * - `info`: the outcome is unknown: the op may take effect at any point after its invoke, or never.
 *   An info op stays open forever, so its process has crashed and must not invoke again
 *   (the harness continues under a fresh process number).
 * An invoke with no completion at the end of the history is treated like `info`.
 *
 * Real-time order is the order of `index` (strictly increasing); `time` is informational and
 * must not decrease.
 */

import { HistoryError } from './history-error.js';
import { brief, isRecord } from './values.js';

export { HistoryError } from './history-error.js';

/** The four op types. */
export const OP_TYPES = ['invoke', 'ok', 'fail', 'info'] as const;

/** An op type: `invoke` or one of the three completions. */
export type OpType = (typeof OP_TYPES)[number];

/** A completion type. */
export type CompletionType = Exclude<OpType, 'invoke'>;

/** One history event. */
export interface Op {
  /** The logical client that issued it (a crashed client continues under a new number). */
  readonly process: number;
  readonly type: OpType;
  /** The operation's function name, e.g. `acquire`, `read`, `write`. */
  readonly f: string;
  /** The argument (on invoke) or the result (on completion); any JSON value. */
  readonly value: unknown;
  /** Monotonic time of the event (ms or ns; the unit is the recorder's choice); never decreases. */
  readonly time: number;
  /** Position in the whole history; strictly increasing. */
  readonly index: number;
  /** Optional human-readable cause of a `fail` or `info`. */
  readonly error?: string;
}

/** A whole history, in order. */
export type History = readonly Op[];

/** An invoke paired with its completion. */
export interface PairedOp {
  /** Position among the paired ops, in invoke order (0-based). */
  readonly id: number;
  readonly process: number;
  readonly f: string;
  readonly invoke: Op;
  /** The completion, or null when the history ended with the op still open. */
  readonly completion: Op | null;
  /** `info` also covers an op that never completed. */
  readonly outcome: CompletionType;
  /** `index` of the invoke. */
  readonly start: number;
  /** `index` of the completion; `Infinity` for `info` (the op may take effect at any later time). */
  readonly end: number;
}

const OP_KEYS = new Set(['process', 'type', 'f', 'value', 'time', 'index', 'error']);

/**
 * Checks that `x` has the shape of an Op and returns it typed; throws HistoryError naming the
 * first bad field (with `line` when given).
 */
export function validateOp(x: unknown, line?: number): Op {
  const at = line === undefined ? {} : { line };
  if (!isRecord(x)) throw new HistoryError(`an op must be a JSON object, got ${brief(x)}`, at);
  for (const k of Object.keys(x)) if (!OP_KEYS.has(k)) throw new HistoryError(`unknown field "${k}" in op`, at);
  const { process, type, f, value, time, index, error } = x;
  const where = typeof index === 'number' ? { ...at, index } : at;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw new HistoryError(`"index" must be a non-negative safe integer, got ${brief(index)}`, at);
  if (typeof process !== 'number' || !Number.isSafeInteger(process)) throw new HistoryError(`"process" must be a safe integer, got ${brief(process)}`, where);
  if (typeof type !== 'string' || !(OP_TYPES as readonly string[]).includes(type)) throw new HistoryError(`"type" must be one of ${OP_TYPES.join('|')}, got ${brief(type)}`, where);
  if (typeof f !== 'string' || f.length === 0) throw new HistoryError(`"f" must be a non-empty string, got ${brief(f)}`, where);
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw new HistoryError(`"time" must be a finite non-negative number, got ${brief(time)}`, where);
  if (error !== undefined && typeof error !== 'string') throw new HistoryError(`"error" must be a string when present, got ${brief(error)}`, where);
  const op: Op = { process, type: type as OpType, f, value: value === undefined ? null : value, time, index };
  return error === undefined ? op : { ...op, error };
}

/**
 * Validates the ordering and pairing rules of a history and pairs each invoke with its
 * completion. `lines[i]`, when given, is the file line of `ops[i]` for error messages.
 * Throws HistoryError on the first violation.
 */
export function pairHistory(ops: History, lines?: readonly number[]): PairedOp[] {
  const open = new Map<number, { op: Op; slot: number }>();
  const crashed = new Map<number, number>();
  const slots: Array<{ invoke: Op; completion: Op | null }> = [];
  let prev: Op | undefined;
  ops.forEach((raw, i) => {
    const line = lines?.[i];
    const op = validateOp(raw, line);
    const at = line === undefined ? { index: op.index } : { line, index: op.index };
    if (prev !== undefined) {
      if (op.index <= prev.index) throw new HistoryError(`index ${op.index} does not increase (previous op has index ${prev.index})`, at);
      if (op.time < prev.time) throw new HistoryError(`time ${op.time} goes backwards (previous op has time ${prev.time})`, at);
    }
    prev = op;
    if (op.type === 'invoke') {
      const pending = open.get(op.process);
      if (pending) throw new HistoryError(`process ${op.process} invoked ${op.f} while its ${pending.op.f} (index ${pending.op.index}) is still open`, at);
      const crashIndex = crashed.get(op.process);
      if (crashIndex !== undefined) throw new HistoryError(`process ${op.process} invoked again after its info op (index ${crashIndex}); a crashed process must continue under a new number`, at);
      open.set(op.process, { op, slot: slots.length });
      slots.push({ invoke: op, completion: null });
      return;
    }
    const pending = open.get(op.process);
    if (!pending) throw new HistoryError(`${op.type} ${op.f} of process ${op.process} completes nothing (no open invoke)`, at);
    if (pending.op.f !== op.f) throw new HistoryError(`${op.type} has f "${op.f}" but the open invoke of process ${op.process} (index ${pending.op.index}) has f "${pending.op.f}"`, at);
    open.delete(op.process);
    const slot = slots[pending.slot];
    if (slot) slot.completion = op;
    if (op.type === 'info') crashed.set(op.process, op.index);
  });
  return slots.map(({ invoke, completion }, id) => {
    const outcome: CompletionType = completion === null ? 'info' : (completion.type as CompletionType);
    const end = outcome === 'info' || completion === null ? Infinity : completion.index;
    return { id, process: invoke.process, f: invoke.f, invoke, completion, outcome, start: invoke.index, end };
  });
}

/** Checks a history's shape and rules (see `pairHistory`); throws HistoryError on the first problem. */
export function validateHistory(ops: History, lines?: readonly number[]): void {
  pairHistory(ops, lines);
}

/** A one-line description of a paired op for reports: `#id p3 write {..} -> ok {..} [12..15]`. */
export function describePaired(p: PairedOp): string {
  const result = p.completion === null ? 'open' : `${p.outcome} ${brief(p.completion.value, 60)}`;
  const span = p.completion === null ? `[${p.start}..]` : `[${p.start}..${p.completion.index}]`;
  return `#${p.id} p${p.process} ${p.f} ${brief(p.invoke.value, 60)} -> ${result} ${span}`;
}
