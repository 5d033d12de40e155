/**
 * The sequential specification of a read/write/compare-and-set register, one independent register
 * per key. Values are JSON, compared structurally.
 *
 * History encoding (`key` is optional and defaults to `"default"`):
 * | f       | invoke value         | ok value                                             |
 * |---------|----------------------|------------------------------------------------------|
 * | `read`  | `{key?}` or `null`   | `{value}`: the value read (`null` = never written)   |
 * | `write` | `{key?, value}`      | anything (ignored)                                   |
 * | `cas`   | `{key?, from, to}`   | `true`/`null` if it swapped, `false` if it did not   |
 */

import { assertNever } from '../../../src/common/assert.js';
import { HistoryError } from './history-error.js';
import type { DecodedOp, Model, StepResult } from './model.js';
import { brief, canonicalJson, expectRecord, isRecord, optionalName } from './values.js';

/** The key used when an op names none. */
export const DEFAULT_KEY = 'default';

/** A register op's input; values are canonical JSON text. */
export type RegisterInput =
  | { readonly type: 'read'; readonly key: string }
  | { readonly type: 'write'; readonly key: string; readonly value: string }
  | { readonly type: 'cas'; readonly key: string; readonly from: string; readonly to: string };

/** A register op's observed output; values are canonical JSON text. */
export type RegisterOutput =
  | { readonly type: 'read'; readonly value: string }
  | { readonly type: 'write' }
  | { readonly type: 'cas'; readonly swapped: boolean };

/** The register's value as canonical JSON text (`null` initially). */
export type RegisterState = string;

function stepRegister(s: RegisterState, input: RegisterInput, output: RegisterOutput | undefined): StepResult<RegisterState> {
  switch (input.type) {
    case 'read':
      // A read with an unknown result changes nothing: the same as never happening.
      if (output === undefined || output.type !== 'read') return { ok: false };
      return output.value === s ? { ok: true, state: s } : { ok: false };
    case 'write':
      return { ok: true, state: input.value };
    case 'cas': {
      const swapped = output === undefined ? true : output.type === 'cas' ? output.swapped : undefined;
      if (swapped === undefined) return { ok: false };
      if (swapped) return s === input.from ? { ok: true, state: input.to } : { ok: false };
      return s === input.from ? { ok: false } : { ok: true, state: s };
    }
    default:
      return assertNever(input, 'register input');
  }
}

function decodeRegister(f: string, invokeValue: unknown, completionValue: unknown, known: boolean): DecodedOp<RegisterInput, RegisterOutput> {
  const inv = invokeValue === null && f === 'read' ? undefined : expectRecord(invokeValue, `${f} invoke value`);
  const key = optionalName(inv, 'key', DEFAULT_KEY, `${f} invoke value`);
  switch (f) {
    case 'read': {
      const input: RegisterInput = { type: 'read', key };
      if (!known) return { input, output: undefined };
      const out = expectRecord(completionValue, 'read ok value');
      if (!('value' in out)) throw new HistoryError(`read ok value needs a "value" field, got ${brief(out)}`);
      return { input, output: { type: 'read', value: canonicalJson(out.value) } };
    }
    case 'write': {
      if (inv === undefined || !('value' in inv)) throw new HistoryError('write invoke value needs a "value" field');
      return { input: { type: 'write', key, value: canonicalJson(inv.value) }, output: known ? { type: 'write' } : undefined };
    }
    case 'cas': {
      if (inv === undefined || !('from' in inv) || !('to' in inv)) throw new HistoryError('cas invoke value needs "from" and "to" fields');
      const input: RegisterInput = { type: 'cas', key, from: canonicalJson(inv.from), to: canonicalJson(inv.to) };
      if (!known) return { input, output: undefined };
      return { input, output: { type: 'cas', swapped: swappedOf(completionValue) } };
    }
    default:
      throw new HistoryError(`unknown register op f "${f}" (expected read, write or cas)`);
  }
}

function swappedOf(v: unknown): boolean {
  if (v === null || v === undefined || v === true) return true;
  if (v === false) return false;
  if (isRecord(v) && typeof v.swapped === 'boolean') return v.swapped;
  throw new HistoryError(`cas ok value must be a boolean, null, or {swapped: boolean}, got ${brief(v)}`);
}

function describeRegisterOp(input: RegisterInput, output: RegisterOutput | undefined): string {
  const args = input.type === 'read' ? `(${input.key})` : input.type === 'write' ? `(${input.key}, ${input.value})` : `(${input.key}, ${input.from} -> ${input.to})`;
  const result = output === undefined ? '?' : output.type === 'read' ? output.value : output.type === 'cas' ? String(output.swapped) : 'ok';
  return `${input.type}${args} -> ${result}`;
}

/** Options of `registerModel`. */
export interface RegisterModelOptions {
  /** The value of a register never written; default `null`. */
  readonly initial?: unknown;
}

/** A read/write/cas register model, partitioned by key. */
export function registerModel(options: RegisterModelOptions = {}): Model<RegisterState, RegisterInput, RegisterOutput> {
  const initial = canonicalJson(options.initial ?? null);
  return {
    name: 'register',
    init: () => initial,
    step: stepRegister,
    equal: (a, b) => a === b,
    hash: (s) => s,
    partition: (input) => input.key,
    decode: decodeRegister,
    describeState: (s) => `value ${s}`,
    describeOp: describeRegisterOp,
  };
}
