import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/common/clock.js';
import { HistoryError } from '../checker/history.js';
import { checkLinearizability, checkOperations, renderLinearizability, type LinOperation } from '../checker/linearizability.js';
import { lockModel } from '../checker/lock-model.js';
import { registerModel, type RegisterInput, type RegisterOutput } from '../checker/register-model.js';
import { HistoryBuilder } from './build.js';

const reg = registerModel();
const w = (v: unknown, key?: string): unknown => (key === undefined ? { value: v } : { key, value: v });
const r = (key?: string): unknown => (key === undefined ? null : { key });
const got = (v: unknown): unknown => ({ value: v });

describe('linearizability: register histories', () => {
  it('accepts an empty history and a sequential one', () => {
    expect(checkLinearizability(reg, []).valid).toBe(true);
    const h = new HistoryBuilder().op(0, 'write', w(1)).op(0, 'read', r(), got(1)).op(1, 'write', w(2)).op(1, 'read', r(), got(2)).build();
    const res = checkLinearizability(reg, h);
    expect(res.valid).toBe(true);
    expect(res.ops).toBe(4);
    expect(res.failure).toBeNull();
  });

  it('lets a read concurrent with a write see either value', () => {
    for (const seen of [null, 1]) {
      const h = new HistoryBuilder().inv(0, 'write', w(1)).inv(1, 'read', r()).ok(1, got(seen)).ok(0).build();
      expect(checkLinearizability(reg, h).valid).toBe(true);
    }
  });

  it('rejects a stale read and names the read, its prefix and the window', () => {
    const h = new HistoryBuilder()
      .op(0, 'write', w(1))
      .op(0, 'write', w(2))
      .inv(2, 'write', w(3))
      .inv(1, 'read', r())
      .ok(1, got(1))
      .ok(2)
      .build();
    const res = checkLinearizability(reg, h);
    expect(res.valid).toBe(false);
    const f = res.failure;
    expect(f).not.toBeNull();
    if (!f) return;
    expect(f.stuck.f).toBe('read');
    expect(f.stuck.output).toEqual({ type: 'read', value: '1' });
    expect(f.prefix.map((o) => o.input)).toEqual(['1', '2', '3'].map((value) => ({ type: 'write', key: 'default', value })));
    expect(f.state).toBe('value 3');
    expect(f.concurrent.map((o) => [o.input, o.inPrefix])).toEqual([[{ type: 'write', key: 'default', value: '3' }, true]]);
    expect(f.window).toEqual({ from: 4, to: 6 });
    const text = renderLinearizability(res);
    expect(text).toContain('NOT linearizable');
    expect(text).toContain('cannot be linearized next: #3 p1 read(default) -> 1');
    expect(text).toContain('write(default, 3) -> ok [4..7]  (in prefix)');
  });

  it('drops fail ops: a failed write cannot be read', () => {
    const base = () => new HistoryBuilder().op(0, 'write', w(1)).inv(1, 'write', w(2)).fail(1);
    expect(checkLinearizability(reg, base().op(0, 'read', r(), got(1)).build()).valid).toBe(true);
    expect(checkLinearizability(reg, base().op(0, 'read', r(), got(2)).build()).valid).toBe(false);
  });

  it('lets an info write take effect late or never, but not before its invoke', () => {
    const info = () => new HistoryBuilder().op(0, 'write', w(1)).inv(1, 'write', w(2)).info(1);
    // Took effect much later:
    expect(checkLinearizability(reg, info().op(0, 'read', r(), got(1)).op(0, 'read', r(), got(1)).op(0, 'read', r(), got(2)).build()).valid).toBe(true);
    // Never took effect:
    expect(checkLinearizability(reg, info().op(0, 'read', r(), got(1)).build()).valid).toBe(true);
    // Took effect, then the old value came back: impossible.
    expect(checkLinearizability(reg, info().op(0, 'read', r(), got(2)).op(0, 'read', r(), got(1)).build()).valid).toBe(false);
    // Seen before it was invoked: impossible.
    const early = new HistoryBuilder().op(0, 'read', r(), got(2)).inv(1, 'write', w(2)).info(1).build();
    expect(checkLinearizability(reg, early).valid).toBe(false);
  });

  it('treats an invoke left open at the end of the history like info', () => {
    const h = new HistoryBuilder().inv(1, 'write', w(7)).op(0, 'read', r(), got(7)).op(0, 'read', r(), got(7)).build();
    expect(checkLinearizability(reg, h).valid).toBe(true);
    const bad = new HistoryBuilder().inv(1, 'write', w(7)).op(0, 'read', r(), got(7)).op(0, 'read', r(), got(null)).build();
    expect(checkLinearizability(reg, bad).valid).toBe(false);
  });

  it('checks cas, including a cas whose outcome is unknown', () => {
    const ok = new HistoryBuilder().op(0, 'write', w(1)).op(0, 'cas', { from: 1, to: 2 }, true).op(0, 'cas', { from: 1, to: 3 }, false).op(0, 'read', r(), got(2)).build();
    expect(checkLinearizability(reg, ok).valid).toBe(true);
    const badSwap = new HistoryBuilder().op(0, 'write', w(1)).op(0, 'cas', { from: 5, to: 2 }, true).build();
    expect(checkLinearizability(reg, badSwap).valid).toBe(false);
    const unknown = new HistoryBuilder().op(0, 'write', w(1)).inv(1, 'cas', { from: 1, to: 2 }).info(1).op(0, 'read', r(), got(2)).op(0, 'write', w(4)).op(0, 'read', r(), got(4)).build();
    expect(checkLinearizability(reg, unknown).valid).toBe(true);
    const unknownImpossible = new HistoryBuilder().op(0, 'write', w(1)).inv(1, 'cas', { from: 9, to: 2 }).info(1).op(0, 'read', r(), got(2)).build();
    expect(checkLinearizability(reg, unknownImpossible).valid).toBe(false);
  });

  it('finds a linearization that needs backtracking over concurrent writes', () => {
    // Four concurrent writes, then reads pinning a specific last writer and no interleaving reads.
    const b = new HistoryBuilder();
    for (let p = 0; p < 4; p++) b.inv(p, 'write', w(p));
    b.inv(9, 'read', r()).ok(9, got(0));
    for (let p = 0; p < 4; p++) b.ok(p);
    b.op(9, 'read', r(), got(2));
    // 0 was seen mid-way, 2 last: order ... 0 ... 2 is possible (2 after 0).
    expect(checkLinearizability(reg, b.build()).valid).toBe(true);
  });

  it('checks partitions independently and reports the failing key', () => {
    const h = new HistoryBuilder()
      .op(0, 'write', w(1, 'a'))
      .op(1, 'write', w(1, 'b'))
      .op(0, 'read', r('a'), got(1))
      .op(1, 'write', w(2, 'b'))
      .op(1, 'read', r('b'), got(1))
      .build();
    const res = checkLinearizability(reg, h);
    expect(res.valid).toBe(false);
    expect(res.partitions.map((p) => [p.partition, p.valid])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(res.failure?.partition).toBe('b');
    expect(renderLinearizability(res)).toContain('partition "b": NOT linearizable');
  });

  it('gives up with unknown, never true, when the time budget runs out', () => {
    let t = 0;
    const jumpy: Clock = { now: () => (t += 1000) };
    const b = new HistoryBuilder();
    for (let i = 0; i < 600; i++) b.op(i % 3, 'write', w(i)).op(i % 3, 'read', r(), got(i));
    const res = checkLinearizability(reg, b.build(), { timeoutMs: 1, clock: jumpy });
    expect(res.valid).toBe('unknown');
    expect(res.partitions[0]?.valid).toBe('unknown');
    expect(renderLinearizability(res)).toContain('UNKNOWN');
    // The same history with enough time is linearizable.
    expect(checkLinearizability(reg, b.build()).valid).toBe(true);
  });

  it('raises a HistoryError with the op index on a value the model cannot decode', () => {
    const h = new HistoryBuilder().op(0, 'write', w(1)).op(0, 'read', r(), 5).build();
    expect(() => checkLinearizability(reg, h)).toThrow(HistoryError);
    expect(() => checkLinearizability(reg, h)).toThrow(/op index 3: register model cannot decode read/);
    const unknownF = new HistoryBuilder().op(0, 'frobnicate', {}).build();
    expect(() => checkLinearizability(reg, unknownF)).toThrow(/unknown register op f "frobnicate"/);
  });

  it('rejects hand-built ops that return before they are called, and a negative timeout', () => {
    const ops: LinOperation<RegisterInput, RegisterOutput>[] = [{ id: 0, process: 0, f: 'write', input: { type: 'write', key: 'k', value: '1' }, output: { type: 'write' }, start: 5, end: 2 }];
    expect(() => checkOperations(reg, ops)).toThrow(HistoryError);
    expect(() => checkOperations(reg, [], { timeoutMs: -1 })).toThrow(RangeError);
  });
});

describe('linearizability: lock histories', () => {
  const acq = (name = 'a'): unknown => ({ name });
  const tok = (token: number): unknown => ({ token });
  const rel = (token: number, name = 'a'): unknown => ({ name, token });

  it('accepts grants in token order with releases between them', () => {
    const h = new HistoryBuilder()
      .op(0, 'acquire', acq(), tok(3))
      .inv(1, 'acquire', acq())
      .op(0, 'check', rel(3), true)
      .op(0, 'release', rel(3), null)
      .ok(1, tok(7))
      .op(2, 'try-acquire', acq(), { acquired: false })
      .op(2, 'check', rel(3), false)
      .op(1, 'release', rel(7), { released: true })
      .op(2, 'try-acquire', acq(), { acquired: true, token: 9 })
      .op(0, 'release', rel(3), { released: false })
      .build();
    expect(checkLinearizability(lockModel, h).valid).toBe(true);
  });

  it('rejects a double grant, a token going backwards, and a stale sequencer', () => {
    const double = new HistoryBuilder().op(0, 'acquire', acq(), tok(3)).op(1, 'acquire', acq(), tok(4)).build();
    const res = checkLinearizability(lockModel, double);
    expect(res.valid).toBe(false);
    expect(res.failure?.stuck.process).toBe(1);
    expect(res.failure?.state).toBe('held by token 3');

    const backwards = new HistoryBuilder().op(0, 'acquire', acq(), tok(5)).op(0, 'release', rel(5)).op(1, 'acquire', acq(), tok(4)).build();
    expect(checkLinearizability(lockModel, backwards).valid).toBe(false);

    const stale = new HistoryBuilder().op(0, 'acquire', acq(), tok(5)).op(0, 'release', rel(5)).op(1, 'check', rel(5), true).build();
    expect(checkLinearizability(lockModel, stale).valid).toBe(false);
  });

  it('accepts overlapping acquire windows that can be ordered, but not a try-acquire refused on a free lock', () => {
    const overlap = new HistoryBuilder().inv(0, 'acquire', acq()).inv(1, 'acquire', acq()).ok(1, tok(2)).inv(1, 'release', rel(2)).ok(0, tok(4)).ok(1).build();
    expect(checkLinearizability(lockModel, overlap).valid).toBe(true);
    const refused = new HistoryBuilder().op(0, 'acquire', acq(), tok(1)).op(0, 'release', rel(1)).op(1, 'try-acquire', acq(), { acquired: false }).build();
    expect(checkLinearizability(lockModel, refused).valid).toBe(false);
  });

  it('keeps locks of different names apart', () => {
    const h = new HistoryBuilder().op(0, 'acquire', acq('a'), tok(1)).op(1, 'acquire', acq('b'), tok(2)).op(1, 'acquire', acq('c'), tok(1)).build();
    const res = checkLinearizability(lockModel, h);
    expect(res.valid).toBe(true);
    expect(res.partitions.map((p) => p.partition)).toEqual(['a', 'b', 'c']);
  });

  it('handles a grant with an unknown token: pinned by a check, ordered before later grants', () => {
    const base = () => new HistoryBuilder().op(0, 'acquire', acq(), tok(2)).op(0, 'release', rel(2)).inv(1, 'acquire', acq()).info(1);
    // The crashed acquire may never have happened:
    expect(checkLinearizability(lockModel, base().op(2, 'acquire', acq(), tok(3)).build()).valid).toBe(true);
    // ...or granted some token > 2, which a sequencer check then pins and a release frees:
    const pinned = base().op(2, 'check', rel(5), true).op(3, 'check', rel(4), false).op(2, 'release', rel(5)).op(3, 'acquire', acq(), tok(6)).build();
    expect(checkLinearizability(lockModel, pinned).valid).toBe(true);
    // A later grant must still exceed the pinned token:
    const lower = base().op(2, 'check', rel(5), true).op(2, 'release', rel(5)).op(3, 'acquire', acq(), tok(4)).build();
    expect(checkLinearizability(lockModel, lower).valid).toBe(false);
    // A token at or below the last grant cannot belong to the unknown holder:
    const tooLow = base().op(2, 'check', rel(2), true).build();
    expect(checkLinearizability(lockModel, tooLow).valid).toBe(false);
    // A token ruled out by an earlier false check cannot later be current:
    const ruledOut = base().op(2, 'try-acquire', acq(), { acquired: false }).op(2, 'check', rel(5), false).op(2, 'check', rel(5), true).build();
    expect(checkLinearizability(lockModel, ruledOut).valid).toBe(false);
  });

  it('accepts a lock freed by an observed session expiry, and no other way', () => {
    const crashed = () => new HistoryBuilder().op(0, 'acquire', acq(), tok(2)).inv(0, 'check', rel(2)).info(0);
    expect(checkLinearizability(lockModel, crashed().op(1, 'acquire', acq(), tok(3)).build()).valid).toBe(false);
    const h = crashed().inv(1, 'acquire', acq()).op(9, 'expire', rel(2)).ok(1, tok(3)).build();
    const res = checkLinearizability(lockModel, h);
    expect(res.valid).toBe(true);
    // The acquire cannot be granted before the expiry it waited for.
    const early = crashed().op(1, 'acquire', acq(), tok(3)).op(9, 'expire', rel(2)).build();
    expect(checkLinearizability(lockModel, early).valid).toBe(false);
  });

  it('lets an info release free the lock at any later point, or never', () => {
    const base = () => new HistoryBuilder().op(0, 'acquire', acq(), tok(2)).inv(0, 'release', rel(2)).info(0);
    expect(checkLinearizability(lockModel, base().op(1, 'try-acquire', acq(), { acquired: false }).op(1, 'acquire', acq(), tok(3)).build()).valid).toBe(true);
    expect(checkLinearizability(lockModel, base().op(1, 'check', rel(2), true).op(1, 'check', rel(2), true).build()).valid).toBe(true);
    expect(checkLinearizability(lockModel, base().op(1, 'acquire', acq(), tok(3)).op(1, 'check', rel(2), true).build()).valid).toBe(false);
  });
});
