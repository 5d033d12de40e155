import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/common/codec.js';
import { ConfigError, LatchError } from '../../src/common/index.js';
import { LockStateMachine, type LockCommand, type LockSnapshot } from '../../src/lock/index.js';
import { Harness, bytes, codeOf, tokenOf, waiterOf } from './harness.js';

describe('exactly once', () => {
  it('answers seq == last from the cache, refuses seq < last, executes seq > last', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    const first = h.acquire(a, 'x');
    const seq = h.lastSeq(a);
    h.release(a, 'x');
    h.acquire(b, 'x');
    // the retry must not acquire again nor touch b's hold
    const release = { type: 'release' as const, sessionId: a, seq: seq + 1, name: 'x' };
    const retried = h.apply(release);
    expect(retried.result).toMatchObject({ ok: true, type: 'release', token: tokenOf(first.result) });
    expect(retried.events).toEqual([]);
    expect(h.m.getLock('x')?.holders[0]?.sessionId).toBe(b);
    const stale = h.apply({ type: 'acquire', sessionId: a, seq, name: 'x', mode: 'exclusive', waitMs: 0 }).result;
    expect(codeOf(stale)).toBe('STALE_REQUEST');
    expect(stale.ok ? '' : stale.message).toMatch(new RegExp(`request seq ${seq} of session ${a} is older than its last request \\(seq ${seq + 1}\\)`));
    expect(h.m.getSession(a)?.lastSeq).toBe(seq + 1);
  });

  it('caches failures too, so a retry of LOCK_HELD stays LOCK_HELD even after the lock frees', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const r = h.acquire(b, 'x').result;
    const seq = h.lastSeq(b);
    h.release(a, 'x');
    expect(h.apply({ type: 'acquire', sessionId: b, seq, name: 'x', mode: 'exclusive', waitMs: 0 }).result).toEqual(r);
    expect(h.m.getLock('x')).toBeUndefined();
  });

  it('a retried queued acquire sees the grant (with its token) once granted', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.acquire(a, 'x');
    const q = h.acquire(b, 'x', 'exclusive', 1000);
    const seq = h.lastSeq(b);
    const cmd: LockCommand = { type: 'acquire', sessionId: b, seq, name: 'x', mode: 'exclusive', waitMs: 1000 };
    expect(h.apply(cmd).result).toEqual(q.result);
    h.release(a, 'x');
    const grantIndex = h.index;
    expect(h.apply(cmd).result).toEqual({ ok: true, type: 'acquire', status: 'granted', name: 'x', mode: 'exclusive', sessionId: b, token: grantIndex, alreadyHeld: false });
    expect(h.m.getLock('x')?.holders).toHaveLength(1);
  });

  it('a malformed request does not consume its seq', () => {
    const h = new Harness();
    const a = h.open();
    const bad = h.applyRaw({ type: 'acquire', sessionId: a, seq: 1, name: 'bad name', mode: 'exclusive', waitMs: 0 });
    expect(codeOf(bad.result)).toBe('INVALID_ARGUMENT');
    expect(h.m.getSession(a)?.lastSeq).toBe(0);
    expect(tokenOf(h.apply({ type: 'acquire', sessionId: a, seq: 1, name: 'good', mode: 'exclusive', waitMs: 0 }).result)).toBe(h.index);
  });
});

describe('defensive apply', () => {
  const cases: [string, unknown][] = [
    ['null', null],
    ['a string', 'acquire'],
    ['an array', [1, 2]],
    ['unknown type', { type: 'grab' }],
    ['missing seq', { type: 'release', sessionId: 1, name: 'x' }],
    ['zero seq', { type: 'release', sessionId: 1, seq: 0, name: 'x' }],
    ['float session', { type: 'release', sessionId: 1.5, seq: 1, name: 'x' }],
    ['bigint session', { type: 'release', sessionId: 1n, seq: 1, name: 'x' }],
    ['bad mode', { type: 'acquire', sessionId: 1, seq: 1, name: 'x', mode: 'write', waitMs: 0 }],
    ['negative wait', { type: 'acquire', sessionId: 1, seq: 1, name: 'x', mode: 'shared', waitMs: -1 }],
    ['huge wait', { type: 'acquire', sessionId: 1, seq: 1, name: 'x', mode: 'shared', waitMs: 2 ** 31 }],
    ['string value', { type: 'acquire', sessionId: 1, seq: 1, name: 'x', mode: 'shared', waitMs: 0, value: 'v' }],
    ['missing value', { type: 'set-value', sessionId: 1, seq: 1, name: 'x' }],
    ['bad waiter', { type: 'cancel-wait', waiterId: 'w' }],
    ['bad since', { type: 'end-lock-delay', name: 'x', since: -3 }],
    ['bad delay name', { type: 'end-lock-delay', name: '' }],
  ];
  it.each(cases)('turns %s into INVALID_ARGUMENT without a state change', (_label, cmd) => {
    const h = new Harness();
    const a = h.open();
    h.acquire(a, 'x');
    const before = h.m.snapshot();
    const out = h.applyRaw(cmd);
    expect(codeOf(out.result)).toBe('INVALID_ARGUMENT');
    expect(out.result.ok ? '' : out.result.message.length).toBeGreaterThan(10);
    expect(out.effects).toEqual([]);
    expect(out.events).toEqual([]);
    expect(h.m.snapshot()).toEqual(before);
  });

  it('refuses an entry index that does not move forward, and allows gaps', () => {
    const h = new Harness();
    h.open();
    const m = h.m;
    const before = m.snapshot();
    const r = m.apply({ type: 'open-session', ttlMs: 5000, client: 'c' }, { index: h.index, term: 1, at: 0 });
    expect(codeOf(r.result)).toBe('INVALID_ARGUMENT');
    expect(r.result.ok ? '' : r.result.message).toMatch(/not after the last applied index/);
    expect(m.snapshot()).toEqual(before);
    expect(codeOf(m.apply({ type: 'open-session', ttlMs: 5000, client: 'c' }, { index: 9.5, term: 1, at: 0 }).result)).toBe('INVALID_ARGUMENT');
    expect(codeOf(m.apply({ type: 'open-session', ttlMs: 5000, client: 'c' }, { index: 99, term: 1, at: Number.NaN }).result)).toBe('INVALID_ARGUMENT');
    expect(m.apply({ type: 'open-session', ttlMs: 5000, client: 'c' }, { index: h.index + 10, term: 1, at: 0 }).result).toMatchObject({ ok: true, sessionId: h.index + 10 });
    expect(m.appliedIndex).toBe(h.index + 10);
  });

  it('refuses an invalid config with ConfigError', () => {
    expect(() => new LockStateMachine({ maxWaitersPerLock: 0 })).toThrow(ConfigError);
    expect(() => new LockStateMachine({ eventRingSize: 1.5 })).toThrow(/lock.eventRingSize/);
  });
});

describe('queries', () => {
  it('listLocks filters by prefix and sorts; a bad prefix is a LatchError', () => {
    const h = new Harness();
    const a = h.open();
    for (const n of ['jobs/b', 'jobs/a', 'other', 'jobsx']) h.acquire(a, n);
    expect(h.m.listLocks('jobs/').map((l) => l.name)).toEqual(['jobs/a', 'jobs/b']);
    expect(h.m.listLocks().map((l) => l.name)).toEqual(['jobs/a', 'jobs/b', 'jobsx', 'other']);
    expect(() => h.m.listLocks('bad prefix')).toThrow(LatchError);
    expect(h.m.getLock('bad name')).toBeUndefined();
    expect(h.m.getSession(a)?.holds).toEqual(['jobs/a', 'jobs/b', 'jobsx', 'other']);
  });

  it('checkSequencer is true only for the current (name, mode, token, session)', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    const t = tokenOf(h.acquire(a, 'x').result);
    const seq = { name: 'x', mode: 'exclusive' as const, token: t, sessionId: a };
    expect(h.m.checkSequencer(seq)).toBe(true);
    expect(h.m.checkSequencer({ ...seq, mode: 'shared' })).toBe(false);
    expect(h.m.checkSequencer({ ...seq, token: t + 1 })).toBe(false);
    expect(h.m.checkSequencer({ ...seq, sessionId: b })).toBe(false);
    expect(h.m.checkSequencer({ ...seq, name: 'y' })).toBe(false);
    expect(h.m.checkSequencer(null as never)).toBe(false);
    h.release(a, 'x');
    h.acquire(a, 'x');
    expect(h.m.checkSequencer(seq)).toBe(false);
  });

  it('pendingTimers lists every waiter deadline and every lock-delay in force', () => {
    const h = new Harness();
    const [a, b, c] = [h.open(), h.open(), h.open()];
    h.acquire(a, 'x');
    h.acquire(a, 'y');
    const wb = waiterOf(h.acquire(b, 'x', 'exclusive', 700).result);
    const wc = waiterOf(h.acquire(c, 'x', 'shared', 900).result);
    h.expire(a, 4000);
    const since = h.index;
    expect(h.m.pendingTimers()).toEqual([
      { type: 'wait-deadline', waiterId: wb, waitMs: 700 },
      { type: 'wait-deadline', waiterId: wc, waitMs: 900 },
      { type: 'lock-delay', name: 'x', delayMs: 4000, since },
      { type: 'lock-delay', name: 'y', delayMs: 4000, since },
    ]);
    h.apply({ type: 'end-lock-delay', name: 'x', since });
    expect(h.m.pendingTimers()).toEqual([
      { type: 'wait-deadline', waiterId: wc, waitMs: 900 },
      { type: 'lock-delay', name: 'y', delayMs: 4000, since },
    ]);
  });
});

describe('watch events', () => {
  it('returns events from an index, filtered by name prefix (session events only without a prefix)', () => {
    const h = new Harness();
    const a = h.open();
    const from = h.index + 1;
    h.acquire(a, 'jobs/x');
    h.acquire(a, 'other');
    h.release(a, 'jobs/x');
    const all = h.m.eventsSince(0);
    expect(all.ok && all.events.map((e) => e.type)).toEqual(['session-opened', 'acquired', 'acquired', 'released']);
    const jobs = h.m.eventsSince(from, 'jobs/');
    expect(jobs.ok && jobs.events.map((e) => [e.type, e.name])).toEqual([['acquired', 'jobs/x'], ['released', 'jobs/x']]);
    const late = h.m.eventsSince(h.index + 1);
    expect(late).toEqual({ ok: true, events: [] });
    expect(h.m.eventsSince(-1)).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
    expect(h.m.eventsSince(0, 'a b')).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
  });

  it('is bounded and reports WATCH_COMPACTED for an index whose events were dropped', () => {
    const h = new Harness({ eventRingSize: 3 });
    const a = h.open();
    for (let i = 0; i < 3; i++) h.acquire(a, `l${i}`);
    const r = h.m.eventsSince(1);
    expect(r).toMatchObject({ ok: false, code: 'WATCH_COMPACTED' });
    expect(r.ok ? '' : r.message).toMatch(/no longer retained \(ring of 3\); resync/);
    const ok = h.m.eventsSince(h.index - 2);
    expect(ok.ok && ok.events.map((e) => e.name)).toEqual(['l0', 'l1', 'l2']);
  });
});

describe('snapshots', () => {
  function busyMachine(): Harness {
    const h = new Harness({ eventRingSize: 50, endedSessionMemory: 3 });
    const [a, b, c, d] = [h.open(), h.open(), h.open(), h.open()];
    h.acquire(a, 'x', 'exclusive', 0, bytes('leader-a'));
    h.acquire(b, 'x', 'exclusive', 5000, bytes('cand-b'));
    h.acquire(c, 'r', 'shared');
    h.acquire(d, 'r', 'shared');
    h.acquire(a, 'r', 'exclusive', 3000);
    h.acquire(b, 'r', 'shared', 3000);
    h.acquire(c, 'z');
    h.expire(c, 8000);
    h.apply({ type: 'checkpoint-sessions', sessions: [[d, 1234]] });
    const e = h.open();
    h.close(e);
    return h;
  }

  it('restore(snapshot()) through the codec behaves identically on the same commands', () => {
    const h = busyMachine();
    const snap = h.m.snapshot();
    const restored = LockStateMachine.restore(decode<LockSnapshot>(encode(snap)));
    expect(restored.snapshot()).toEqual(snap);
    const twin = new Harness({}, restored);
    twin.at = h.at;
    const ids = h.m.listSessions().map((s) => s.id);
    const cmds: LockCommand[] = [
      { type: 'release', sessionId: ids[0] as number, seq: 50, name: 'x' },
      { type: 'end-lock-delay', name: 'z' },
      { type: 'acquire', sessionId: ids[1] as number, seq: 3, name: 'x', mode: 'exclusive', waitMs: 5000 },
      { type: 'acquire', sessionId: ids[1] as number, seq: 1, name: 'x', mode: 'exclusive', waitMs: 5000 },
      { type: 'expire-session', sessionId: ids[2] as number, lockDelayMs: 100 },
      { type: 'close-session', sessionId: ids[3] as number, seq: 1 },
      { type: 'cancel-wait', waiterId: 99 },
    ];
    for (const c of cmds) expect(twin.apply(c)).toEqual(h.apply(c));
    expect(twin.m.snapshot()).toEqual(h.m.snapshot());
    expect(twin.m.eventsSince(0)).toEqual(h.m.eventsSince(0));
    expect(twin.m.pendingTimers()).toEqual(h.m.pendingTimers());
  });

  it('shares no memory with the machine', () => {
    const h = busyMachine();
    const snap = h.m.snapshot();
    const v = snap.locks.find((l) => l.name === 'x')?.value;
    if (v) v[0] = 0;
    expect(h.m.getLock('x')?.value).toEqual(bytes('leader-a'));
  });

  it.each<[string, (s: Record<string, any>) => void, RegExp]>([
    ['wrong version', (s) => (s.version = 2), /version must be 1/],
    ['not an object', (s) => (s.sessions = 5), /sessions must be an array/],
    ['holder of an unknown session', (s) => (s.locks[0].holders[0].sessionId = 9999), /unknown session 9999/],
    ['exclusive with two holders', (s) => s.locks[0].holders.push({ ...s.locks[0].holders[0], sessionId: s.sessions[2].id }), /exactly one holder|duplicates/],
    ['waiters out of order', (s) => s.locks.find((l: any) => l.waiters.length > 1).waiters.reverse(), /FIFO/],
    ['token above lastToken', (s) => (s.lastToken = 1), /exceeds lastToken|exceeds appliedIndex/],
    ['bad cached result', (s) => (s.sessions[0].lastResult = { ok: false, code: 'NOPE', message: 'x' }), /registry error code/],
    ['bad event', (s) => (s.events[0].type = 'exploded'), /event type/],
  ])('refuses a corrupt snapshot: %s', (_label, corrupt, msg) => {
    const snap = structuredClone(busyMachine().m.snapshot()) as unknown as Record<string, any>;
    corrupt(snap);
    expect(() => LockStateMachine.restore(snap as unknown as LockSnapshot)).toThrow(msg);
    try {
      LockStateMachine.restore(snap as unknown as LockSnapshot);
    } catch (e) {
      expect(e).toBeInstanceOf(LatchError);
    }
  });
});
