/**
 * The sequential specification of a fenced resource: a register that accepts a write only when
 * its fencing token is at least the highest token it has accepted (Chubby §2.4; Kleppmann's
 * "How to do distributed locking"). One independent register per key.
 *
 * History encoding (`key` optional, default `"default"`; tokens are safe integers):
 * | f       | invoke value            | ok value                                   |
 * |---------|-------------------------|--------------------------------------------|
 * | `read`  | `{key?}` or `null`      | `{value}` (`null` = never written)         |
 * | `write` | `{key?, token, value}`  | `{accepted: boolean}` or a boolean         |
 */

import { assertNever } from '../../../src/common/assert.js';
import { HistoryError } from './history-error.js';
import type { DecodedOp, Model, StepResult } from './model.js';
import { DEFAULT_KEY } from './register-model.js';
import { brief, canonicalJson, expectBool, expectInt, expectRecord, isRecord, optionalName } from './values.js';

/** A fenced-register op's input; values are canonical JSON text. */
export type FencedInput =
  | { readonly type: 'read'; readonly key: string }
  | { readonly type: 'write'; readonly key: string; readonly token: number; readonly value: string };

/** A fenced-register op's observed output. */
export type FencedOutput = { readonly type: 'read'; readonly value: string } | { readonly type: 'write'; readonly accepted: boolean };

/** The highest accepted token (null before any) and the current value (canonical JSON). */
export interface FencedState {
  readonly highest: number | null;
  readonly value: string;
}

function stepFenced(s: FencedState, input: FencedInput, output: FencedOutput | undefined): StepResult<FencedState> {
  switch (input.type) {
    case 'read':
      if (output === undefined || output.type !== 'read') return { ok: false };
      return output.value === s.value ? { ok: true, state: s } : { ok: false };
    case 'write': {
      const acceptable = s.highest === null || input.token >= s.highest;
      // Unknown outcome: if acceptable, it took effect as an accepted write; a rejection changes nothing.
      const accepted = output === undefined ? true : output.type === 'write' ? output.accepted : undefined;
      if (accepted === undefined || accepted !== acceptable) return { ok: false };
      return { ok: true, state: accepted ? { highest: input.token, value: input.value } : s };
    }
    default:
      return assertNever(input, 'fenced register input');
  }
}

function decodeFenced(f: string, invokeValue: unknown, completionValue: unknown, known: boolean): DecodedOp<FencedInput, FencedOutput> {
  const inv = invokeValue === null && f === 'read' ? undefined : expectRecord(invokeValue, `${f} invoke value`);
  const key = optionalName(inv, 'key', DEFAULT_KEY, `${f} invoke value`);
  switch (f) {
    case 'read': {
      const input: FencedInput = { type: 'read', key };
      if (!known) return { input, output: undefined };
      const out = expectRecord(completionValue, 'read ok value');
      if (!('value' in out)) throw new HistoryError(`read ok value needs a "value" field, got ${brief(out)}`);
      return { input, output: { type: 'read', value: canonicalJson(out.value) } };
    }
    case 'write': {
      if (inv === undefined) throw new HistoryError('write invoke value must be an object');
      const input: FencedInput = { type: 'write', key, token: expectInt(inv, 'token', 'write invoke value'), value: canonicalJson(inv.value) };
      if (!known) return { input, output: undefined };
      return { input, output: { type: 'write', accepted: acceptedOf(completionValue) } };
    }
    default:
      throw new HistoryError(`unknown fenced register op f "${f}" (expected read or write)`);
  }
}

/** Reads `{accepted: boolean}` or a bare boolean from a write's ok value. */
export function acceptedOf(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (isRecord(v)) return expectBool(v, 'accepted', 'write ok value');
  throw new HistoryError(`write ok value must be a boolean or {accepted: boolean}, got ${brief(v)}`);
}

/** A register that accepts writes only with a token >= the highest accepted, partitioned by key. */
export const fencedRegisterModel: Model<FencedState, FencedInput, FencedOutput> = {
  name: 'fenced-register',
  init: () => ({ highest: null, value: 'null' }),
  step: stepFenced,
  equal: (a, b) => a.highest === b.highest && a.value === b.value,
  hash: (s) => `${s.highest ?? ''}|${s.value}`,
  partition: (input) => input.key,
  decode: decodeFenced,
  describeState: (s) => `value ${s.value}, highest token ${s.highest ?? 'none'}`,
  describeOp: (input, output) =>
    `${input.type}(${input.key}${input.type === 'write' ? `, token ${input.token}, ${input.value}` : ''}) -> ${
      output === undefined ? '?' : output.type === 'read' ? output.value : output.accepted ? 'accepted' : 'rejected'
    }`,
};
