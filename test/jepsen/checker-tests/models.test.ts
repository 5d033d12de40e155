import { describe, expect, it } from 'vitest';
import { HistoryError } from '../checker/history.js';
import { checkLinearizability } from '../checker/linearizability.js';
import type { Model, StepResult } from '../checker/model.js';
import { fencedRegisterModel, lockModel, registerModel, type LockInput, type LockOutput, type LockState } from '../checker/models.js';
import { HistoryBuilder } from './build.js';

/** Steps a model through ops, returning the final result (or the first illegal step). */
function run<S, I, O>(model: Model<S, I, O>, steps: Array<[I, O | undefined]>): StepResult<S> {
  let state = model.init();
  for (const [input, output] of steps) {
    const r = model.step(state, input, output);
    if (!r.ok) return r;
    state = r.state;
  }
  return { ok: true, state };
}

describe('lock model', () => {
  const A: LockInput = { type: 'acquire', name: 'x' };
  const grant = (token: number): [LockInput, LockOutput] => [A, { type: 'acquire', token }];
  const release = (token: number, released = true): [LockInput, LockOutput] => [{ type: 'release', name: 'x', token }, { type: 'release', released }];
  const check = (token: number, current: boolean): [LockInput, LockOutput] => [{ type: 'check', name: 'x', token }, { type: 'check', current }];
  const stateOf = (steps: Array<[LockInput, LockOutput | undefined]>): LockState => {
    const r = run(lockModel, steps);
    if (!r.ok) throw new Error('illegal');
    return r.state;
  };

  it('grants only a free lock, with strictly increasing tokens', () => {
    expect(stateOf([grant(1)])).toEqual({ holder: { type: 'held', token: 1 }, last: 1 });
    expect(run(lockModel, [grant(1), grant(2)]).ok).toBe(false);
    expect(run(lockModel, [grant(5), release(5), grant(5)]).ok).toBe(false);
    expect(run(lockModel, [grant(5), release(5), grant(4)]).ok).toBe(false);
    expect(stateOf([grant(5), release(5), grant(6)]).holder).toEqual({ type: 'held', token: 6 });
  });

  it('answers try-acquire, release and check by the holder token', () => {
    const T: LockInput = { type: 'try-acquire', name: 'x' };
    expect(run(lockModel, [[T, { type: 'try-acquire', acquired: false }]]).ok).toBe(false);
    expect(run(lockModel, [grant(1), [T, { type: 'try-acquire', acquired: false }]]).ok).toBe(true);
    expect(run(lockModel, [[T, { type: 'try-acquire', acquired: true, token: 3 }], check(3, true), check(2, false), release(2, false), release(3)]).ok).toBe(true);
    expect(run(lockModel, [grant(1), release(1, false)]).ok).toBe(false);
    expect(run(lockModel, [grant(1), release(2)]).ok).toBe(false);
    expect(run(lockModel, [release(2)]).ok).toBe(false);
    expect(run(lockModel, [release(2, false), check(2, false)]).ok).toBe(true);
    expect(run(lockModel, [check(2, true)]).ok).toBe(false);
    expect(run(lockModel, [grant(2), check(2, false)]).ok).toBe(false);
  });

  it('keeps a grant with an unknown outcome symbolic until a release or check pins its token', () => {
    const unknown = stateOf([grant(2), release(2), [A, undefined]]);
    expect(unknown.holder).toEqual({ type: 'held-unknown', min: 3, excluded: [] });
    expect(lockModel.describeState?.(unknown)).toBe('held by an unknown token >= 3');
    const excluded = stateOf([grant(2), release(2), [A, undefined], check(9, false), release(4, false)]);
    expect(excluded.holder).toEqual({ type: 'held-unknown', min: 3, excluded: [4, 9] });
    expect(lockModel.describeState?.(excluded)).toBe('held by an unknown token >= 3 not in {4,9}');
    expect(stateOf([[A, undefined], check(7, true)])).toEqual({ holder: { type: 'held', token: 7 }, last: 7 });
    expect(stateOf([[A, undefined], release(7)])).toEqual({ holder: { type: 'free' }, last: 7 });
    expect(run(lockModel, [[A, undefined], check(7, false), release(7)]).ok).toBe(false);
    expect(run(lockModel, [grant(4), release(4), [A, undefined], check(4, true)]).ok).toBe(false);
    // Unknown-outcome ops that could not change the state leave only "never happened".
    expect(run(lockModel, [grant(1), [{ type: 'release', name: 'x', token: 9 }, undefined]]).ok).toBe(false);
    expect(run(lockModel, [[{ type: 'check', name: 'x', token: 1 }, undefined]]).ok).toBe(false);
    expect(lockModel.equal(unknown, stateOf([grant(2), release(2), [A, undefined]]))).toBe(true);
    expect(lockModel.equal(unknown, excluded)).toBe(false);
  });

  it('lets a watcher-observed expiry free the holder, pinning an unknown holder token', () => {
    const expire = (token: number): [LockInput, LockOutput] => [{ type: 'expire', name: 'x', token }, { type: 'expire' }];
    expect(stateOf([grant(3), expire(3), grant(4)]).holder).toEqual({ type: 'held', token: 4 });
    expect(run(lockModel, [grant(3), expire(2)]).ok).toBe(false);
    expect(run(lockModel, [expire(2)]).ok).toBe(false);
    expect(stateOf([grant(3), expire(3), [A, undefined], expire(8)])).toEqual({ holder: { type: 'free' }, last: 8 });
    expect(run(lockModel, [grant(3), expire(3), [A, undefined], expire(8), grant(7)]).ok).toBe(false);
    expect(stateOf([grant(3), [{ type: 'expire', name: 'x', token: 3 }, undefined]]).holder).toEqual({ type: 'free' });
    expect(lockModel.decode('expire', { name: 'x', token: 3 }, null, true)).toEqual({ input: { type: 'expire', name: 'x', token: 3 }, output: { type: 'expire' } });
    expect(lockModel.describeOp?.({ type: 'expire', name: 'x', token: 3 }, { type: 'expire' })).toBe('expire(x, 3) -> expired');
  });

  it('decodes history values and rejects malformed ones with a HistoryError', () => {
    expect(lockModel.decode('try-acquire', { name: 'x' }, { acquired: true, token: 4 }, true)).toEqual({
      input: { type: 'try-acquire', name: 'x' },
      output: { type: 'try-acquire', acquired: true, token: 4 },
    });
    expect(lockModel.decode('release', { name: 'x', token: 4 }, { name: 'x', token: 4 }, true).output).toEqual({ type: 'release', released: true });
    expect(lockModel.decode('check', { name: 'x', token: 4 }, { current: false }, true).output).toEqual({ type: 'check', current: false });
    expect(lockModel.decode('acquire', { name: 'x' }, 'timeout', false)).toEqual({ input: { type: 'acquire', name: 'x' }, output: undefined });
    const bad: Array<[string, unknown, unknown, RegExp]> = [
      ['acquire', {}, { token: 1 }, /needs a "name"/],
      ['acquire', { name: 'x' }, { token: '1' }, /"token" must be a safe integer/],
      ['release', { name: 'x' }, null, /"token" must be a safe integer/],
      ['release', { name: 'x', token: 1 }, { released: 'yes' }, /"released" must be a boolean/],
      ['check', { name: 'x', token: 1 }, 'yes', /check ok value must be an object/],
      ['try-acquire', { name: 'x' }, { acquired: true }, /"token"/],
      ['lock', { name: 'x' }, null, /unknown lock op f "lock"/],
    ];
    for (const [f, inv, out, re] of bad) expect(() => lockModel.decode(f, inv, out, true)).toThrow(re);
  });
});

describe('register model', () => {
  const reg = registerModel({ initial: 0 });
  it('reads the last write, swaps only on a match', () => {
    expect(
      run(reg, [
        [{ type: 'read', key: 'k' }, { type: 'read', value: '0' }],
        [{ type: 'write', key: 'k', value: '{"a":1}' }, { type: 'write' }],
        [{ type: 'cas', key: 'k', from: '{"a":1}', to: '2' }, { type: 'cas', swapped: true }],
        [{ type: 'cas', key: 'k', from: '{"a":1}', to: '3' }, { type: 'cas', swapped: false }],
        [{ type: 'read', key: 'k' }, { type: 'read', value: '2' }],
      ]),
    ).toEqual({ ok: true, state: '2' });
    expect(run(reg, [[{ type: 'cas', key: 'k', from: '0', to: '2' }, { type: 'cas', swapped: false }]]).ok).toBe(false);
  });

  it('compares JSON values structurally, whatever the key order', () => {
    const h = new HistoryBuilder().op(0, 'write', { value: { b: 1, a: [1, { d: 2, c: 3 }] } }).op(0, 'read', null, { value: { a: [1, { c: 3, d: 2 }], b: 1 } }).build();
    expect(checkLinearizability(registerModel(), h).valid).toBe(true);
  });

  it('decodes keys, defaults, and rejects malformed values', () => {
    expect(reg.decode('read', null, { value: 1 }, true)).toEqual({ input: { type: 'read', key: 'default' }, output: { type: 'read', value: '1' } });
    expect(reg.decode('cas', { key: 'q', from: 1, to: 2 }, null, true).output).toEqual({ type: 'cas', swapped: true });
    expect(reg.decode('cas', { key: 'q', from: 1, to: 2 }, { swapped: false }, true).output).toEqual({ type: 'cas', swapped: false });
    expect(() => reg.decode('read', null, 1, true)).toThrow(/read ok value must be an object/);
    expect(() => reg.decode('read', null, {}, true)).toThrow(/needs a "value" field/);
    expect(() => reg.decode('write', { key: 'k' }, null, true)).toThrow(/needs a "value" field/);
    expect(() => reg.decode('write', { key: 3, value: 1 }, null, true)).toThrow(/"key" must be a non-empty string/);
    expect(() => reg.decode('cas', { from: 1 }, null, true)).toThrow(/"from" and "to"/);
    expect(() => reg.decode('cas', { from: 1, to: 2 }, 'maybe', true)).toThrow(HistoryError);
  });
});

describe('fenced register model', () => {
  const write = (token: number, value: string, accepted: boolean) => [{ type: 'write' as const, key: 'r', token, value }, { type: 'write' as const, accepted }] as const;
  it('accepts writes with a token at least the highest accepted, and rejects the rest', () => {
    const steps = [write(3, '"a"', true), write(3, '"b"', true), write(2, '"c"', false), write(5, '"d"', true)].map(([i, o]) => [i, o] as [typeof i, typeof o]);
    const r = run(fencedRegisterModel, steps);
    expect(r).toEqual({ ok: true, state: { highest: 5, value: '"d"' } });
    expect(run(fencedRegisterModel, [write(3, '1', true), write(2, '2', true)].map(([i, o]) => [i, o] as [typeof i, typeof o])).ok).toBe(false);
    expect(run(fencedRegisterModel, [write(3, '1', false)].map(([i, o]) => [i, o] as [typeof i, typeof o])).ok).toBe(false);
  });

  it('checks a history: a stale write accepted after a newer one is not linearizable', () => {
    const good = new HistoryBuilder()
      .op(0, 'write', { token: 1, value: 'a' }, { accepted: true })
      .op(1, 'write', { token: 2, value: 'b' }, true)
      .op(0, 'write', { token: 1, value: 'c' }, { accepted: false })
      .op(0, 'read', null, { value: 'b' })
      .build();
    expect(checkLinearizability(fencedRegisterModel, good).valid).toBe(true);
    const bad = new HistoryBuilder().op(1, 'write', { token: 2, value: 'b' }, true).op(0, 'write', { token: 1, value: 'c' }, true).build();
    expect(checkLinearizability(fencedRegisterModel, bad).valid).toBe(false);
    expect(() => fencedRegisterModel.decode('write', { value: 1 }, true, true)).toThrow(/"token" must be a safe integer/);
    expect(() => fencedRegisterModel.decode('write', { token: 1 }, 'yes', true)).toThrow(/boolean or \{accepted: boolean\}/);
  });
});
