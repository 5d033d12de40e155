import { describe, expect, it } from 'vitest';
import { MAX_VALUE_BYTES } from '../../src/lock/index.js';
import { Harness, bytes, codeOf, tokenOf, waiterOf } from './harness.js';

describe('acquire and release (exclusive)', () => {
  it('grants a free lock with token = entry index; try-acquire of a held lock is LOCK_HELD', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    const out = h.acquire(a, 'jobs/nightly-report');
    expect(out.result).toEqual({ ok: true, type: 'acquire', status: 'granted', name: 'jobs/nightly-report', mode: 'exclusive', sessionId: a, token: h.index, alreadyHeld: false });
    expect(out.events).toEqual([{ index: h.index, at: h.at, type: 'acquired', sessionId: a, name: 'jobs/nightly-report', token: h.index, mode: 'exclusive' }]);
    const t = h.index;
    const tryB = h.acquire(b, 'jobs/nightly-report').result;
    expect(codeOf(tryB)).toBe('LOCK_HELD');
    expect(tryB.ok ? '' : tryB.message).toMatch(new RegExp(`held exclusively by session ${a} \\(token ${t}\\)`));
    expect(h.m.lastToken).toBe(t);
  });

  it('queues a waiting acquire and grants it in a later entry with that entry\'s index', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const q = h.acquire(b, 'x', 'exclusive', 30_000);
    const wb = waiterOf(q.result);
    expect(wb).toBe(h.index);
    expect(q.effects).toEqual([{ type: 'wait-deadline', waiterId: wb, waitMs: 30_000 }]);
    expect(h.m.getLock('x')?.waiters).toEqual([{ waiterId: wb, sessionId: b, mode: 'exclusive', waitMs: 30_000, queuedAt: h.at }]);
    const rel = h.release(a, 'x');
    expect(rel.result).toMatchObject({ ok: true, type: 'release', name: 'x' });
    expect(rel.effects).toEqual([{ type: 'granted', waiterId: wb, sessionId: b, name: 'x', mode: 'exclusive', token: h.index }]);
    expect(rel.events.map((e) => e.type)).toEqual(['released', 'acquired']);
    expect(h.m.checkSequencer({ name: 'x', mode: 'exclusive', token: h.index, sessionId: b })).toBe(true);
  });

  it('grants waiters strictly in FIFO order', () => {
    const h = new Harness();
    const [a, b, c, d] = [h.open(), h.open(), h.open(), h.open()];
    h.acquire(a, 'x');
    waiterOf(h.acquire(c, 'x', 'exclusive', 1000).result);
    waiterOf(h.acquire(b, 'x', 'exclusive', 1000).result);
    waiterOf(h.acquire(d, 'x', 'exclusive', 1000).result);
    const order: number[] = [];
    let holder = a;
    for (let i = 0; i < 3; i++) {
      const g = h.release(holder, 'x').effects.find((e) => e.type === 'granted');
      if (g?.type !== 'granted') throw new Error('no grant');
      order.push(g.sessionId);
      holder = g.sessionId;
    }
    expect(order).toEqual([c, b, d]);
    h.release(holder, 'x');
    expect(h.m.getLock('x')).toBeUndefined();
  });

  it('release by a non-holder is NOT_HOLDER (mentioning a queued waiter) and changes nothing', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    expect(codeOf(h.release(a, 'nothing').result)).toBe('NOT_HOLDER');
    h.acquire(a, 'x');
    const wb = waiterOf(h.acquire(b, 'x', 'exclusive', 1000).result);
    const r = h.release(b, 'x').result;
    expect(codeOf(r)).toBe('NOT_HOLDER');
    expect(r.ok ? '' : r.message).toMatch(new RegExp(`session ${b} does not hold lock "x" \\(it is queued as waiter ${wb}\\)`));
    expect(h.m.getLock('x')?.waiters.map((w) => w.waiterId)).toEqual([wb]);
  });

  it('re-acquire in the same mode returns the existing grant; mode changes are UPGRADE_REFUSED', () => {
    const h = new Harness();
    const a = h.open();
    const s = h.open();
    const t = tokenOf(h.acquire(a, 'x').result);
    const again = h.acquire(a, 'x', 'exclusive', 5000);
    expect(again.result).toMatchObject({ status: 'granted', token: t, alreadyHeld: true });
    expect(again.events).toEqual([]);
    const down = h.acquire(a, 'x', 'shared').result;
    expect(codeOf(down)).toBe('UPGRADE_REFUSED');
    expect(down.ok ? '' : down.message).toMatch(/cannot be downgraded to shared: release it first/);
    tokenOf(h.acquire(s, 'y', 'shared').result);
    const up = h.acquire(s, 'y', 'exclusive', 1000).result;
    expect(codeOf(up)).toBe('UPGRADE_REFUSED');
    expect(up.ok ? '' : up.message).toMatch(/shared hold cannot be upgraded to exclusive/);
    expect(h.m.getLock('y')?.waiters).toEqual([]);
  });

  it('a second acquire by a queued session: same mode keeps its place, other mode is refused, try is LOCK_HELD', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const w = waiterOf(h.acquire(b, 'x', 'exclusive', 1000).result);
    const again = h.acquire(b, 'x', 'exclusive', 9000);
    expect(again.result).toMatchObject({ status: 'queued', waiterId: w });
    expect(again.effects).toEqual([{ type: 'wait-deadline', waiterId: w, waitMs: 9000 }]);
    expect(codeOf(h.acquire(b, 'x', 'shared', 1000).result)).toBe('INVALID_ARGUMENT');
    expect(codeOf(h.acquire(b, 'x', 'exclusive', 0).result)).toBe('LOCK_HELD');
    expect(h.m.getLock('x')?.waiters).toHaveLength(1);
    // the grant completes the latest request's cached result
    h.acquire(b, 'x', 'exclusive', 9000);
    const seq = h.lastSeq(b);
    h.release(a, 'x');
    const retry = h.apply({ type: 'acquire', sessionId: b, seq, name: 'x', mode: 'exclusive', waitMs: 9000 });
    expect(retry.result).toMatchObject({ status: 'granted', token: h.index - 1 });
  });

  it('refuses a waiter beyond maxWaitersPerLock with TOO_MANY_WAITERS', () => {
    const h = new Harness({ maxWaitersPerLock: 2 });
    const [a, b, c, d] = [h.open(), h.open(), h.open(), h.open()];
    h.acquire(a, 'x');
    waiterOf(h.acquire(b, 'x', 'exclusive', 1000).result);
    waiterOf(h.acquire(c, 'x', 'shared', 1000).result);
    const r = h.acquire(d, 'x', 'exclusive', 1000).result;
    expect(codeOf(r)).toBe('TOO_MANY_WAITERS');
    expect(r.ok ? '' : r.message).toMatch(/already has 2 waiters; the limit is 2/);
    expect(codeOf(h.acquire(d, 'x', 'exclusive', 0).result)).toBe('LOCK_HELD');
  });

  it('refuses unknown sessions', () => {
    const h = new Harness();
    const r = h.acquire(12345, 'x').result;
    expect(codeOf(r)).toBe('SESSION_NOT_FOUND');
    expect(r.ok ? '' : r.message).toMatch(/session 12345 is not open/);
  });
});

describe('shared mode', () => {
  it('lets shared holders in together; an exclusive waiter blocks later shared requests (no overtaking)', () => {
    const h = new Harness();
    const [a, b, x, c] = [h.open(), h.open(), h.open(), h.open()];
    const ta = tokenOf(h.acquire(a, 'cfg', 'shared').result);
    const tb = tokenOf(h.acquire(b, 'cfg', 'shared').result);
    expect(tb).toBeGreaterThan(ta);
    expect(h.m.getLock('cfg')?.holders.map((p) => p.sessionId)).toEqual([a, b]);
    waiterOf(h.acquire(x, 'cfg', 'exclusive', 1000).result);
    expect(codeOf(h.acquire(c, 'cfg', 'shared').result)).toBe('LOCK_HELD');
    waiterOf(h.acquire(c, 'cfg', 'shared', 1000).result);
    expect(h.release(a, 'cfg').effects).toEqual([]);
    const g = h.release(b, 'cfg').effects;
    expect(g).toEqual([{ type: 'granted', waiterId: expect.any(Number), sessionId: x, name: 'cfg', mode: 'exclusive', token: h.index }]);
    const g2 = h.release(x, 'cfg').effects;
    expect(g2).toMatchObject([{ type: 'granted', sessionId: c, mode: 'shared' }]);
  });

  it('a shared grant wakes every consecutive shared waiter at the head, with one token, and stops at an exclusive', () => {
    const h = new Harness();
    const [o, s1, s2, e, s3] = [h.open(), h.open(), h.open(), h.open(), h.open()];
    h.acquire(o, 'db');
    waiterOf(h.acquire(s1, 'db', 'shared', 1000).result);
    waiterOf(h.acquire(s2, 'db', 'shared', 1000).result);
    waiterOf(h.acquire(e, 'db', 'exclusive', 1000).result);
    waiterOf(h.acquire(s3, 'db', 'shared', 1000).result);
    const out = h.release(o, 'db');
    const grants = out.effects.filter((x) => x.type === 'granted');
    expect(grants.map((x) => (x.type === 'granted' ? [x.sessionId, x.token] : []))).toEqual([
      [s1, h.index],
      [s2, h.index],
    ]);
    expect(h.m.getLock('db')).toMatchObject({ mode: 'shared', waiters: [{ sessionId: e }, { sessionId: s3 }] });
  });

  it('cancelling an exclusive waiter at the head lets the shared waiters behind it join the shared holders', () => {
    const h = new Harness();
    const [a, e, s] = [h.open(), h.open(), h.open()];
    h.acquire(a, 'r', 'shared');
    const we = waiterOf(h.acquire(e, 'r', 'exclusive', 1000).result);
    waiterOf(h.acquire(s, 'r', 'shared', 1000).result);
    const out = h.apply({ type: 'cancel-wait', waiterId: we });
    expect(out.result).toEqual({ ok: true, type: 'cancel-wait', waiterId: we, cancelled: true });
    expect(out.effects).toContainEqual({ type: 'wait-ended', waiterId: we, sessionId: e, name: 'r', code: 'WAIT_TIMEOUT' });
    expect(out.effects).toContainEqual(expect.objectContaining({ type: 'granted', sessionId: s, mode: 'shared', token: h.index }));
    expect(out.events.map((x) => x.type)).toEqual(['wait-timeout', 'acquired']);
    expect(h.m.getLock('r')?.holders.map((p) => p.sessionId)).toEqual([a, s]);
  });
});

describe('cancel-wait', () => {
  it('completes the cached acquire with WAIT_TIMEOUT; a no-op once granted or gone', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const w = waiterOf(h.acquire(b, 'x', 'exclusive', 50).result);
    const seq = h.lastSeq(b);
    h.apply({ type: 'cancel-wait', waiterId: w });
    const retry = h.apply({ type: 'acquire', sessionId: b, seq, name: 'x', mode: 'exclusive', waitMs: 50 }).result;
    expect(codeOf(retry)).toBe('WAIT_TIMEOUT');
    expect(retry.ok ? '' : retry.message).toMatch(new RegExp(`session ${b} waited 50 ms for lock "x" \\(waiter ${w}\\)`));
    expect(h.apply({ type: 'cancel-wait', waiterId: w }).result).toMatchObject({ cancelled: false });
    const w2 = waiterOf(h.acquire(b, 'x', 'exclusive', 50).result);
    h.release(a, 'x');
    const late = h.apply({ type: 'cancel-wait', waiterId: w2 });
    expect(late.result).toMatchObject({ cancelled: false });
    expect(late.effects).toEqual([]);
    expect(h.m.getLock('x')?.holders[0]?.sessionId).toBe(b);
  });

  it('does not overwrite a newer cached result of the same session', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const w = waiterOf(h.acquire(b, 'x', 'exclusive', 50).result);
    const other = h.acquire(b, 'y').result;
    const seq = h.lastSeq(b);
    h.apply({ type: 'cancel-wait', waiterId: w });
    expect(h.apply({ type: 'acquire', sessionId: b, seq, name: 'y', mode: 'exclusive', waitMs: 0 }).result).toEqual(other);
  });
});

describe('values', () => {
  it('set-value is for holders only, is visible in getLock and cleared when the last holder leaves', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x', 'exclusive', 0, bytes('v1'));
    expect(h.m.getLock('x')?.value).toEqual(bytes('v1'));
    const out = h.setValue(a, 'x', bytes('v2'));
    expect(out.result).toEqual({ ok: true, type: 'set-value', name: 'x' });
    expect(out.events).toMatchObject([{ type: 'value-set', name: 'x', sessionId: a, mode: 'exclusive' }]);
    expect(h.m.getLock('x')?.value).toEqual(bytes('v2'));
    expect(codeOf(h.setValue(b, 'x', bytes('evil')).result)).toBe('NOT_HOLDER');
    expect(h.m.getLock('x')?.value).toEqual(bytes('v2'));
    h.release(a, 'x');
    h.acquire(b, 'x');
    expect(h.m.getLock('x')?.value).toBeNull();
  });

  it('a queued waiter\'s value becomes the lock value when it is granted', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x', 'exclusive', 0, bytes('a'));
    h.acquire(b, 'x', 'exclusive', 1000, bytes('b'));
    expect(h.m.getLock('x')?.value).toEqual(bytes('a'));
    h.release(a, 'x');
    expect(h.m.getLock('x')?.value).toEqual(bytes('b'));
  });

  it('refuses a value over 4 KiB and accepts exactly 4 KiB', () => {
    const h = new Harness();
    const a = h.open();
    h.acquire(a, 'x');
    const big = h.apply({ type: 'set-value', sessionId: a, seq: h.nextSeq(a), name: 'x', value: new Uint8Array(MAX_VALUE_BYTES + 1) });
    expect(codeOf(big.result)).toBe('INVALID_ARGUMENT');
    expect(big.result.ok ? '' : big.result.message).toMatch(/4097 bytes; the limit is 4096/);
    expect(h.apply({ type: 'set-value', sessionId: a, seq: h.nextSeq(a), name: 'x', value: new Uint8Array(MAX_VALUE_BYTES) }).result.ok).toBe(true);
    const big2 = h.acquire(a, 'y', 'exclusive', 0, new Uint8Array(MAX_VALUE_BYTES + 1)).result;
    expect(codeOf(big2)).toBe('INVALID_ARGUMENT');
  });

  it('keeps its own copy of values', () => {
    const h = new Harness();
    const a = h.open();
    const v = bytes('abc');
    h.acquire(a, 'x', 'exclusive', 0, v);
    v[0] = 0;
    const seen = h.m.getLock('x')?.value;
    expect(seen).toEqual(bytes('abc'));
    if (seen) seen[1] = 0;
    expect(h.m.getLock('x')?.value).toEqual(bytes('abc'));
  });
});

describe('names', () => {
  it.each(['', '/a', 'a/', 'a//b', 'a b', 'ä', 'a:b', 'x'.repeat(257), 'a\nb'])('refuses %j with INVALID_ARGUMENT', (name) => {
    const h = new Harness();
    const a = h.open();
    const r = h.acquire(a, name).result;
    expect(codeOf(r)).toBe('INVALID_ARGUMENT');
    expect(h.m.listLocks()).toEqual([]);
    expect(h.m.getSession(a)?.lastSeq).toBe(0);
  });

  it.each(['a', 'jobs/nightly-report', 'A.b_c-d/0', '.', 'x'.repeat(256)])('accepts %j', (name) => {
    const h = new Harness();
    const a = h.open();
    expect(tokenOf(h.acquire(a, name).result)).toBeGreaterThan(0);
  });
});

describe('fencing tokens', () => {
  it('every grant\'s token is its entry\'s index, above every token issued by an earlier entry', () => {
    const h = new Harness();
    const ss = [h.open(), h.open(), h.open()];
    let maxBefore = 0;
    let grants = 0;
    const check = (events: readonly { type: string; index: number; token?: number }[]): void => {
      const acquired = events.filter((e) => e.type === 'acquired');
      for (const e of acquired) {
        expect(e.token).toBe(e.index);
        expect(e.token as number).toBeGreaterThan(maxBefore);
      }
      grants += acquired.length;
      if (acquired.length > 0) maxBefore = Math.max(...acquired.map((e) => e.token as number));
    };
    for (let i = 0; i < 40; i++) {
      const s = ss[i % 3] as number;
      check(h.acquire(s, `l${i % 4}`, i % 3 === 0 ? 'exclusive' : 'shared', 1000).events);
      check(h.release(ss[(i + 1) % 3] as number, `l${(i + 2) % 4}`).events);
    }
    expect(grants).toBeGreaterThan(10);
    expect(h.m.lastToken).toBe(maxBefore);
  });
});
