import { describe, expect, it } from 'vitest';
import { Harness, codeOf, tokenOf, waiterOf } from './harness.js';

describe('open-session', () => {
  it('uses the entry index as the session id and starts lapsed with remaining = ttl', () => {
    const h = new Harness();
    h.index = 41;
    const out = h.apply({ type: 'open-session', ttlMs: 5000, client: 'svc-a', meta: { host: 'h1' } });
    expect(out.result).toEqual({ ok: true, type: 'open-session', sessionId: 42, ttlMs: 5000 });
    expect(out.effects).toEqual([{ type: 'session-opened', sessionId: 42, ttlMs: 5000 }]);
    expect(out.events).toEqual([{ index: 42, at: h.at, type: 'session-opened', sessionId: 42 }]);
    const s = h.m.getSession(42);
    expect(s).toMatchObject({ id: 42, ttlMs: 5000, client: 'svc-a', meta: { host: 'h1' }, lapsed: true, remainingMs: 5000, checkpointIndex: 42, holds: [], waits: [], lastSeq: 0 });
    expect(h.m.lapsedSessions()).toEqual([{ id: 42, ttlMs: 5000, lapsed: true, remainingMs: 5000, checkpointIndex: 42 }]);
  });

  it.each([
    [{ ttlMs: 999, client: 'c' }, /ttlMs is 999; it must be between 1000 and 3600000/],
    [{ ttlMs: 3_600_001, client: 'c' }, /between 1000 and 3600000/],
    [{ ttlMs: 1500.5, client: 'c' }, /ttlMs must be an integer/],
    [{ ttlMs: '5000', client: 'c' }, /ttlMs must be an integer/],
    [{ ttlMs: 5000, client: '' }, /client name must not be empty/],
    [{ ttlMs: 5000, client: 'x'.repeat(257) }, /257 bytes; the limit is 256/],
    [{ ttlMs: 5000, client: 'c', meta: { k: 1 } }, /meta "k" must be a string/],
    [{ ttlMs: 5000, client: 'c', meta: ['a'] }, /meta must be an object/],
    [{ ttlMs: 5000, client: 'c', meta: { big: 'x'.repeat(4100) } }, /limit is 4096/],
  ])('refuses %j with INVALID_ARGUMENT and changes nothing', (fields, msg) => {
    const h = new Harness();
    const before = h.m.snapshot();
    const out = h.applyRaw({ type: 'open-session', ...fields });
    expect(out.result.ok).toBe(false);
    expect(codeOf(out.result)).toBe('INVALID_ARGUMENT');
    expect(out.result.ok ? '' : out.result.message).toMatch(msg);
    expect(out.effects).toEqual([]);
    expect(h.m.snapshot()).toEqual(before);
  });

  it('accepts the TTL bounds themselves', () => {
    const h = new Harness();
    expect(h.open(1000)).toBeGreaterThan(0);
    expect(h.open(3_600_000)).toBeGreaterThan(0);
    expect(h.m.listSessions().map((s) => s.ttlMs)).toEqual([1000, 3_600_000]);
  });
});

describe('close-session', () => {
  it('releases locks without lock-delay, removes its waiters and grants the next waiter', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    const c = h.open();
    expect(tokenOf(h.acquire(a, 'jobs/x').result)).toBeGreaterThan(0);
    tokenOf(h.acquire(c, 'jobs/y').result);
    const wb = waiterOf(h.acquire(b, 'jobs/x', 'exclusive', 5000).result);
    const wa = waiterOf(h.acquire(a, 'jobs/y', 'shared', 5000).result);
    const out = h.close(a);
    const closeIndex = h.index;
    expect(out.result).toEqual({ ok: true, type: 'close-session', sessionId: a, released: ['jobs/x'] });
    expect(out.effects).toContainEqual({ type: 'wait-ended', waiterId: wa, sessionId: a, name: 'jobs/y', code: 'SESSION_NOT_FOUND' });
    expect(out.effects).toContainEqual({ type: 'session-ended', sessionId: a, reason: 'closed' });
    expect(out.effects).toContainEqual({ type: 'granted', waiterId: wb, sessionId: b, name: 'jobs/x', mode: 'exclusive', token: closeIndex });
    expect(out.effects.some((e) => e.type === 'lock-delay')).toBe(false);
    expect(out.events.map((e) => e.type)).toEqual(['released', 'session-closed', 'acquired']);
    expect(h.m.getLock('jobs/x')).toMatchObject({ mode: 'exclusive', holders: [{ sessionId: b, token: closeIndex }], inDelay: false });
    expect(h.m.getLock('jobs/y')?.waiters).toEqual([]);
    expect(h.m.getSession(a)).toBeUndefined();
  });

  it('answers a retried close with the same result and later requests with SESSION_NOT_FOUND', () => {
    const h = new Harness();
    const a = h.open();
    h.acquire(a, 'l');
    const first = h.close(a).result;
    const seq = h.lastSeq(a);
    const retry = h.apply({ type: 'close-session', sessionId: a, seq });
    expect(retry.result).toEqual(first);
    expect(retry.events).toEqual([]);
    const later = h.acquire(a, 'l').result;
    expect(codeOf(later)).toBe('SESSION_NOT_FOUND');
    expect(later.ok ? '' : later.message).toMatch(new RegExp(`session ${a} was closed at index`));
  });
});

describe('expire-session', () => {
  it('releases with lock-delay: no grant (not even to waiters) until end-lock-delay for that delay', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    const t1 = tokenOf(h.acquire(a, 'db/primary').result);
    const wb = waiterOf(h.acquire(b, 'db/primary', 'exclusive', 60_000).result);
    const out = h.expire(a, 10_000);
    const since = h.index;
    expect(out.result).toEqual({ ok: true, type: 'expire-session', sessionId: a, released: ['db/primary'] });
    expect(out.effects).toContainEqual({ type: 'lock-delay', name: 'db/primary', delayMs: 10_000, since });
    expect(out.effects).toContainEqual({ type: 'session-ended', sessionId: a, reason: 'expired' });
    expect(out.effects.some((e) => e.type === 'granted')).toBe(false);
    expect(out.events.map((e) => [e.type, e.token])).toEqual([['expired', t1], ['session-expired', undefined]]);
    expect(h.m.getLock('db/primary')).toMatchObject({ mode: null, holders: [], inDelay: true, delay: { since, sessionId: a, delayMs: 10_000 } });
    expect(h.m.getLock('db/primary')?.delayUntil).toBe(h.at + 10_000);

    const c = h.open();
    const tryC = h.acquire(c, 'db/primary').result;
    expect(codeOf(tryC)).toBe('LOCK_HELD');
    expect(tryC.ok ? '' : tryC.message).toMatch(/lock-delay/);

    const stale = h.apply({ type: 'end-lock-delay', name: 'db/primary', since: since - 1 });
    expect(stale.result).toEqual({ ok: true, type: 'end-lock-delay', name: 'db/primary', ended: false });
    expect(h.m.getLock('db/primary')?.inDelay).toBe(true);

    const end = h.apply({ type: 'end-lock-delay', name: 'db/primary', since });
    expect(end.result).toEqual({ ok: true, type: 'end-lock-delay', name: 'db/primary', ended: true });
    expect(end.events[0]).toMatchObject({ type: 'delay-ended', name: 'db/primary', sessionId: a });
    expect(end.effects).toContainEqual({ type: 'granted', waiterId: wb, sessionId: b, name: 'db/primary', mode: 'exclusive', token: h.index });
    expect(h.m.getLock('db/primary')).toMatchObject({ inDelay: false, holders: [{ sessionId: b, token: h.index }] });
    const again = h.apply({ type: 'end-lock-delay', name: 'db/primary' });
    expect(again.result).toMatchObject({ ended: false });
  });

  it('with lockDelayMs 0 grants the next waiter at once', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const wb = waiterOf(h.acquire(b, 'x', 'exclusive', 1000).result);
    const out = h.expire(a, 0);
    expect(out.effects).toContainEqual({ type: 'granted', waiterId: wb, sessionId: b, name: 'x', mode: 'exclusive', token: h.index });
    expect(h.m.getLock('x')?.inDelay).toBe(false);
  });

  it('removes the expired session\'s waiters with SESSION_EXPIRED and later requests get SESSION_EXPIRED', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const wb = waiterOf(h.acquire(b, 'x', 'shared', 1000).result);
    const out = h.expire(b, 5000);
    expect(out.result).toEqual({ ok: true, type: 'expire-session', sessionId: b, released: [] });
    expect(out.effects).toContainEqual({ type: 'wait-ended', waiterId: wb, sessionId: b, name: 'x', code: 'SESSION_EXPIRED' });
    expect(h.m.getLock('x')?.waiters).toEqual([]);
    const r = h.acquire(b, 'y').result;
    expect(codeOf(r)).toBe('SESSION_EXPIRED');
    expect(r.ok ? '' : r.message).toMatch(new RegExp(`session ${b} expired at index`));
    expect(codeOf(h.expire(b).result)).toBe('SESSION_EXPIRED');
  });

  it('refuses an unknown session and an out-of-range lock-delay', () => {
    const h = new Harness();
    expect(codeOf(h.expire(999).result)).toBe('SESSION_NOT_FOUND');
    const a = h.open();
    expect(codeOf(h.applyRaw({ type: 'expire-session', sessionId: a, lockDelayMs: -1 }).result)).toBe('INVALID_ARGUMENT');
    expect(codeOf(h.applyRaw({ type: 'expire-session', sessionId: a, lockDelayMs: 3_600_001 }).result)).toBe('INVALID_ARGUMENT');
    expect(h.m.getSession(a)).toBeDefined();
  });

  it('forgets ended sessions beyond endedSessionMemory (oldest first)', () => {
    const h = new Harness({ endedSessionMemory: 1 });
    const a = h.open();
    const b = h.open();
    h.expire(a);
    h.expire(b);
    const ra = h.acquire(a, 'x').result;
    expect(codeOf(ra)).toBe('SESSION_NOT_FOUND');
    expect(ra.ok ? '' : ra.message).toMatch(/not open/);
    expect(codeOf(h.acquire(b, 'x').result)).toBe('SESSION_EXPIRED');
  });
});

describe('checkpoint-sessions and renew-session', () => {
  it('marks sessions lapsed with the remaining TTL (clamped to ttl) and skips unknown ids', () => {
    const h = new Harness();
    const a = h.open(5000);
    const b = h.open(8000);
    h.apply({ type: 'renew-session', sessionId: a });
    h.apply({ type: 'renew-session', sessionId: b });
    expect(h.m.lapsedSessions()).toEqual([]);
    const out = h.apply({ type: 'checkpoint-sessions', sessions: [[a, 1200], [b, 9999], [777, 10]] });
    expect(out.result).toEqual({ ok: true, type: 'checkpoint-sessions', updated: 2 });
    expect(h.m.lapsedSessions()).toEqual([
      { id: a, ttlMs: 5000, lapsed: true, remainingMs: 1200, checkpointIndex: h.index },
      { id: b, ttlMs: 8000, lapsed: true, remainingMs: 8000, checkpointIndex: h.index },
    ]);
    const r = h.apply({ type: 'renew-session', sessionId: a });
    expect(r.result).toEqual({ ok: true, type: 'renew-session', sessionId: a, wasLapsed: true });
    expect(h.m.getSession(a)).toMatchObject({ lapsed: false, remainingMs: null, checkpointIndex: null });
    expect(h.apply({ type: 'renew-session', sessionId: a }).result).toMatchObject({ wasLapsed: false });
    expect(codeOf(h.apply({ type: 'renew-session', sessionId: 555 }).result)).toBe('SESSION_NOT_FOUND');
  });

  it.each<[string, (a: number) => unknown, RegExp]>([
    ['not an array', () => 'x', /must be an array/],
    ['a short pair', (a) => [[a, 100], [1]], /pair/],
    ['a negative remaining', (a) => [[a, 100], [1, -5]], /remainingMs/],
    ['a zero id', (a) => [[a, 100], [0, 5]], /sessionId/],
    ['too many', (a) => [[a, 100], ...Array.from({ length: 10_000 }, (_, i) => [i + 1, 1])], /limit is 10000/],
  ])('refuses a batch with %s whole, changing nothing', (_label, sessions, msg) => {
    const h = new Harness();
    const a = h.open();
    h.apply({ type: 'renew-session', sessionId: a });
    const out = h.applyRaw({ type: 'checkpoint-sessions', sessions: sessions(a) });
    expect(codeOf(out.result)).toBe('INVALID_ARGUMENT');
    expect(out.result.ok ? '' : out.result.message).toMatch(msg);
    expect(h.m.getSession(a)?.lapsed).toBe(false);
  });
});

describe('expire-sessions (a batch of expiries in one entry)', () => {
  it('grants nothing to a session the same entry expires: its waits end first, the next waiter gets the lock', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    const c = h.open();
    expect(h.acquire(a, 'jobs/x').result.ok).toBe(true);
    expect(h.acquire(b, 'jobs/x', 'exclusive', 60_000).result).toMatchObject({ ok: true, status: 'queued' });
    expect(h.acquire(c, 'jobs/x', 'exclusive', 60_000).result).toMatchObject({ ok: true, status: 'queued' });
    const out = h.apply({ type: 'expire-sessions', sessionIds: [a, b, a, 999], lockDelayMs: 0 });
    expect(out.result).toEqual({ ok: true, type: 'expire-sessions', expired: [a, b] });
    expect(out.events.filter((e) => e.type === 'acquired').map((e) => e.sessionId)).toEqual([c]);
    expect(out.effects.filter((e) => e.type === 'wait-ended').map((e) => e.type === 'wait-ended' && e.sessionId)).toEqual([b]);
    expect(h.m.getLock('jobs/x')?.holders.map((x) => x.sessionId)).toEqual([c]);
    expect(h.m.getSession(a)).toBeUndefined();
    expect(h.m.getSession(b)).toBeUndefined();
  });

  it('puts every lock a listed holder had into lock-delay, as expire-session does', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'jobs/p');
    h.acquire(b, 'jobs/q');
    const out = h.apply({ type: 'expire-sessions', sessionIds: [a, b], lockDelayMs: 5000 });
    expect(out.effects.filter((e) => e.type === 'lock-delay').map((e) => e.type === 'lock-delay' && e.name)).toEqual(['jobs/p', 'jobs/q']);
    expect(h.m.getLock('jobs/p')?.inDelay).toBe(true);
    expect(codeOf(h.applyRaw({ type: 'expire-sessions', sessionIds: [], lockDelayMs: 0 }).result)).toBe('INVALID_ARGUMENT');
  });
});
