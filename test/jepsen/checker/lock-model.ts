/**
 * The sequential specification of an exclusive lock with fencing tokens (Chubby §2.4: sequencers),
 * one independent lock per name.
 *
 * History encoding (values are JSON; `name` is required; tokens are safe integers):
 * | f             | invoke value        | ok value                                         |
 * |---------------|---------------------|--------------------------------------------------|
 * | `acquire`     | `{name}`            | `{token}` (blocks until granted)                 |
 * | `try-acquire` | `{name}`            | `{acquired: true, token}` or `{acquired: false}` |
 * | `release`     | `{name, token}`     | `{released: false}` if not the holder; otherwise released (`null`, `{released: true}`, or any object without `released`) |
 * | `check`       | `{name, token}`     | `true`/`false` or `{current: boolean}`: is the sequencer current? |
 * | `expire`      | `{name, token}`     | anything: the service released the holder's lock on its own (session expiry), as seen by a watcher |
 *
 * Rules: a grant needs the lock free and a token strictly greater than every earlier grant's;
 * release frees the lock iff the token is the holder's; check is true iff the token is the holder's;
 * expire must name the holder's token and frees the lock. Without `expire` ops, a lock held by a
 * client that crashed stays held forever, so a harness whose service expires sessions records each
 * expiry it observes (e.g. from a watch stream, invoked when it starts waiting for the next event).
 * A `fail` completion means nothing happened (e.g. a wait deadline passed).
 */

import type { DecodedOp, Model, StepResult } from './model.js';
import { HistoryError } from './history-error.js';
import { assertNever } from '../../../src/common/assert.js';
import { brief, expectBool, expectInt, expectRecord, isRecord, optionalName, type JsonRecord } from './values.js';

/** A lock op's input. */
export type LockInput =
  | { readonly type: 'acquire'; readonly name: string }
  | { readonly type: 'try-acquire'; readonly name: string }
  | { readonly type: 'release'; readonly name: string; readonly token: number }
  | { readonly type: 'check'; readonly name: string; readonly token: number }
  | { readonly type: 'expire'; readonly name: string; readonly token: number };

/** A lock op's observed output. */
export type LockOutput =
  | { readonly type: 'acquire'; readonly token: number }
  | { readonly type: 'try-acquire'; readonly acquired: true; readonly token: number }
  | { readonly type: 'try-acquire'; readonly acquired: false }
  | { readonly type: 'release'; readonly released: boolean }
  | { readonly type: 'check'; readonly current: boolean }
  | { readonly type: 'expire' };

/**
 * Who holds the lock. `held-unknown` is a grant whose outcome was unknown (an `info` acquire): the
 * token is some integer `>= min` other than those in `excluded`; a later release or true check pins it.
 */
export type LockHolder =
  | { readonly type: 'free' }
  | { readonly type: 'held'; readonly token: number }
  | { readonly type: 'held-unknown'; readonly min: number | null; readonly excluded: readonly number[] };

/** The state of one lock: its holder and the highest token granted so far (null before any grant). */
export interface LockState {
  readonly holder: LockHolder;
  readonly last: number | null;
}

const FREE: LockHolder = { type: 'free' };
const ok = (state: LockState): StepResult<LockState> => ({ ok: true, state });
const illegal: StepResult<LockState> = { ok: false };

/** Can the unknown holder's token be `t`? */
function couldBe(h: Extract<LockHolder, { type: 'held-unknown' }>, t: number): boolean {
  return (h.min === null || t >= h.min) && !h.excluded.includes(t);
}

function grant(s: LockState, token: number | undefined): StepResult<LockState> {
  if (s.holder.type !== 'free') return illegal;
  if (token === undefined) return ok({ holder: { type: 'held-unknown', min: s.last === null ? null : s.last + 1, excluded: [] }, last: s.last });
  if (s.last !== null && token <= s.last) return illegal;
  return ok({ holder: { type: 'held', token }, last: token });
}

/** Steps one op; see the module comment for the rules. */
function stepLock(s: LockState, input: LockInput, output: LockOutput | undefined): StepResult<LockState> {
  const h = s.holder;
  switch (input.type) {
    case 'acquire':
      if (output === undefined) return grant(s, undefined);
      return output.type === 'acquire' ? grant(s, output.token) : illegal;
    case 'try-acquire':
      // Unknown outcome: it either granted (covered by held-unknown) or found the lock held (no change).
      if (output === undefined) return grant(s, undefined);
      if (output.type !== 'try-acquire') return illegal;
      if (output.acquired) return grant(s, output.token);
      return h.type === 'free' ? illegal : ok(s);
    case 'release': {
      const t = input.token;
      const released = output === undefined ? true : output.type === 'release' ? output.released : undefined;
      if (released === undefined) return illegal;
      if (released) {
        if (h.type === 'held') return h.token === t ? ok({ holder: FREE, last: s.last }) : illegal;
        if (h.type === 'held-unknown') return couldBe(h, t) ? ok({ holder: FREE, last: t }) : illegal;
        return illegal;
      }
      // Not the holder.
      if (h.type === 'held') return h.token === t ? illegal : ok(s);
      if (h.type === 'held-unknown') return couldBe(h, t) ? ok({ holder: exclude(h, t), last: s.last }) : ok(s);
      return ok(s);
    }
    case 'expire': {
      // Unknown outcome: it either freed the lock or (not the holder) changed nothing.
      if (output !== undefined && output.type !== 'expire') return illegal;
      if (h.type === 'held') return h.token === input.token ? ok({ holder: FREE, last: s.last }) : illegal;
      if (h.type === 'held-unknown') return couldBe(h, input.token) ? ok({ holder: FREE, last: input.token }) : illegal;
      return illegal;
    }
    case 'check': {
      // A check never changes the lock, so an unknown outcome is the same as never happening.
      if (output === undefined || output.type !== 'check') return illegal;
      const t = input.token;
      if (output.current) {
        if (h.type === 'held') return h.token === t ? ok(s) : illegal;
        if (h.type === 'held-unknown') return couldBe(h, t) ? ok({ holder: { type: 'held', token: t }, last: t }) : illegal;
        return illegal;
      }
      if (h.type === 'held') return h.token === t ? illegal : ok(s);
      if (h.type === 'held-unknown') return couldBe(h, t) ? ok({ holder: exclude(h, t), last: s.last }) : ok(s);
      return ok(s);
    }
    default:
      return assertNever(input, 'lock input');
  }
}

function exclude(h: Extract<LockHolder, { type: 'held-unknown' }>, t: number): LockHolder {
  return { type: 'held-unknown', min: h.min, excluded: [...h.excluded, t].sort((a, b) => a - b) };
}

function decodeLock(f: string, invokeValue: unknown, completionValue: unknown, known: boolean): DecodedOp<LockInput, LockOutput> {
  const inv = expectRecord(invokeValue, `${f} invoke value`);
  const name = optionalName(inv, 'name', '', `${f} invoke value`);
  if (name === '') throw new HistoryError(`${f} invoke value needs a "name"`);
  switch (f) {
    case 'acquire': {
      const input: LockInput = { type: 'acquire', name };
      if (!known) return { input, output: undefined };
      return { input, output: { type: 'acquire', token: expectInt(expectRecord(completionValue, 'acquire ok value'), 'token', 'acquire ok value') } };
    }
    case 'try-acquire': {
      const input: LockInput = { type: 'try-acquire', name };
      if (!known) return { input, output: undefined };
      const out = expectRecord(completionValue, 'try-acquire ok value');
      const acquired = expectBool(out, 'acquired', 'try-acquire ok value');
      return { input, output: acquired ? { type: 'try-acquire', acquired, token: expectInt(out, 'token', 'try-acquire ok value') } : { type: 'try-acquire', acquired } };
    }
    case 'release': {
      const input: LockInput = { type: 'release', name, token: expectInt(inv, 'token', 'release invoke value') };
      if (!known) return { input, output: undefined };
      return { input, output: { type: 'release', released: releasedOf(completionValue) } };
    }
    case 'expire': {
      const input: LockInput = { type: 'expire', name, token: expectInt(inv, 'token', 'expire invoke value') };
      return { input, output: known ? { type: 'expire' } : undefined };
    }
    case 'check': {
      const input: LockInput = { type: 'check', name, token: expectInt(inv, 'token', 'check invoke value') };
      if (!known) return { input, output: undefined };
      if (typeof completionValue === 'boolean') return { input, output: { type: 'check', current: completionValue } };
      return { input, output: { type: 'check', current: expectBool(expectRecord(completionValue, 'check ok value'), 'current', 'check ok value') } };
    }
    default:
      throw new HistoryError(`unknown lock op f "${f}" (expected acquire, try-acquire, release, check or expire)`);
  }
}

function releasedOf(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (!isRecord(v)) throw new HistoryError(`release ok value must be null or an object, got ${brief(v)}`);
  const r: JsonRecord = v;
  if (r.released === undefined) return true;
  return expectBool(r, 'released', 'release ok value');
}

function describeHolder(s: LockState): string {
  const h = s.holder;
  switch (h.type) {
    case 'free':
      return `free (last token ${s.last ?? 'none'})`;
    case 'held':
      return `held by token ${h.token}`;
    case 'held-unknown':
      return `held by an unknown token${h.min === null ? '' : ` >= ${h.min}`}${h.excluded.length ? ` not in {${h.excluded.join(',')}}` : ''}`;
    default:
      return assertNever(h, 'lock holder');
  }
}

function describeLockOp(input: LockInput, output: LockOutput | undefined): string {
  const args = input.type === 'acquire' || input.type === 'try-acquire' ? `(${input.name})` : `(${input.name}, ${input.token})`;
  return `${input.type}${args} -> ${output === undefined ? '?' : describeOutput(output)}`;
}

function describeOutput(output: LockOutput): string {
  switch (output.type) {
    case 'acquire':
      return `token ${output.token}`;
    case 'try-acquire':
      return output.acquired ? `token ${output.token}` : 'refused (held)';
    case 'release':
      return output.released ? 'released' : 'not the holder';
    case 'check':
      return output.current ? 'current' : 'not current';
    case 'expire':
      return 'expired';
    default:
      return assertNever(output, 'lock output');
  }
}

/** The lock-with-tokens model, partitioned by lock name. */
export const lockModel: Model<LockState, LockInput, LockOutput> = {
  name: 'lock',
  init: () => ({ holder: FREE, last: null }),
  step: stepLock,
  equal: (a, b) => lockHash(a) === lockHash(b),
  hash: lockHash,
  partition: (input) => input.name,
  decode: decodeLock,
  describeState: describeHolder,
  describeOp: describeLockOp,
};

function lockHash(s: LockState): string {
  const h = s.holder;
  const holder = h.type === 'free' ? 'f' : h.type === 'held' ? `h${h.token}` : `u${h.min ?? ''}/${h.excluded.join(',')}`;
  return `${holder};${s.last ?? ''}`;
}
