import { describe, expect, it } from 'vitest';
import { LatchError } from '../../src/common/index.js';
import { CheckpointAges, LeaseTracker, LockStateMachine } from '../../src/lock/index.js';

const E = 1000;

describe('LeaseTracker basics', () => {
  it('a new session is lapsed (its open is its first checkpoint): the first keepalive needs a renew', () => {
    const t = new LeaseTracker();
    t.opened(7, 10_000, 100);
    expect(t.deadline(7)).toBe(10_100);
    expect(t.keepalive(7, 2000)).toBe('renew-first');
    expect(t.keepalive(7, 2100)).toBe('renew-first');
    expect(t.deadline(7)).toBe(10_100);
    expect(t.renewed(7, 2500)).toBe(true);
    expect(t.deadline(7)).toBe(12_500);
    expect(t.keepalive(7, 5000)).toBe('ack');
    expect(t.deadline(7)).toBe(15_000);
    expect(t.keepalive(99, 5000)).toBe('unknown');
  });

  it('due() lists sessions past their deadline, earliest first; a passed deadline is never extended', () => {
    const t = new LeaseTracker();
    t.opened(1, 3000, 0);
    t.opened(2, 2000, 0);
    t.opened(3, 9000, 0);
    expect(t.due(1999)).toEqual([]);
    expect(t.due(3000)).toEqual([2, 1]);
    expect(t.keepalive(1, 3000)).toBe('expired');
    expect(t.renewed(1, 3001)).toBe(false);
    expect(t.deadline(1)).toBe(3000);
    t.ended(1);
    expect(t.has(1)).toBe(false);
    expect(t.due(3000)).toEqual([2]);
  });

  it('a renew that commits after the deadline is refused (no ack can race an expiry)', () => {
    const t = new LeaseTracker();
    t.opened(1, 2000, 0);
    expect(t.keepalive(1, 1900)).toBe('renew-first');
    expect(t.renewed(1, 2000)).toBe(false);
    expect(t.due(2000)).toEqual([1]);
  });

  it('becomeLeader: grace = now + min(ttl, remaining − age + electionTimeout); unlapsed sessions get the full ttl', () => {
    const t = new LeaseTracker();
    t.becomeLeader(
      50_000,
      [
        { id: 1, ttlMs: 10_000, lapsed: true, remainingMs: 4000 },
        { id: 2, ttlMs: 10_000, lapsed: true, remainingMs: 4000, checkpointAgeMs: 1500 },
        { id: 3, ttlMs: 10_000, lapsed: false },
        { id: 4, ttlMs: 3000, lapsed: true, remainingMs: 3000 },
        { id: 5, ttlMs: 10_000, lapsed: true, remainingMs: 1000, checkpointAgeMs: 5000 },
      ],
      E,
    );
    expect(t.deadline(1)).toBe(55_000);
    expect(t.deadline(2)).toBe(53_500);
    expect(t.deadline(3)).toBe(60_000);
    expect(t.deadline(4)).toBe(53_000);
    expect(t.deadline(5)).toBe(50_000);
    expect(t.due(50_000)).toEqual([5]);
  });

  it('checkpoint(): inherited unlapsed sessions at once, quiet sessions after lapseAfter, refreshes only on meaningful change, bounded batches', () => {
    const t = new LeaseTracker({ maxCheckpointBatch: 2, minCheckpointChangeMs: 1000 });
    t.becomeLeader(0, [{ id: 1, ttlMs: 10_000, lapsed: false }, { id: 2, ttlMs: 10_000, lapsed: false }, { id: 3, ttlMs: 10_000, lapsed: false }], E);
    expect(t.checkpoint(0, 3000)).toEqual([[1, 10_000], [2, 10_000]]);
    expect(t.checkpoint(100, 3000)).toEqual([[3, 9900]]);
    expect(t.checkpoint(500, 3000)).toEqual([]);
    expect(t.checkpoint(1000, 3000)).toEqual([[1, 9000], [2, 9000]]);
    // a session heard by this leader is checkpointed only once quiet for lapseAfter
    t.opened(10, 10_000, 0);
    expect(t.keepalive(10, 1000)).toBe('renew-first');
    expect(t.renewed(10, 1000)).toBe(true);
    const t2 = new LeaseTracker();
    t2.becomeLeader(0, [], E);
    t2.opened(10, 10_000, 0);
    t2.keepalive(10, 10);
    t2.renewed(10, 10);
    expect(t2.checkpoint(2000, 3000)).toEqual([]);
    expect(t2.checkpoint(3010, 3000)).toEqual([[10, 7000]]);
    expect(t2.keepalive(10, 3020)).toBe('renew-first');
  });

  it('marks sessions lapsed when the checkpoint is proposed, and leaves out sessions with a renew in flight', () => {
    const t = new LeaseTracker({ minCheckpointChangeMs: 0 });
    t.becomeLeader(0, [{ id: 1, ttlMs: 10_000, lapsed: false }, { id: 2, ttlMs: 10_000, lapsed: false }], E);
    expect(t.keepalive(1, 10)).toBe('ack');
    expect(t.checkpoint(10, 0)).toEqual([[2, 9990], [1, 10_000]]); // never-heard sessions first
    expect(t.keepalive(1, 20)).toBe('renew-first');
    expect(t.checkpoint(30, 0)).toEqual([[2, 9970]]);
    t.renewAborted(1);
    expect(t.checkpoint(40, 0)).toEqual([[1, 9970], [2, 9960]]);
  });

  it('refuses nonsense input with a LatchError', () => {
    const t = new LeaseTracker();
    expect(() => t.opened(0, 1000, 0)).toThrow(LatchError);
    expect(() => t.keepalive(1, Number.NaN)).toThrow(LatchError);
    expect(() => t.becomeLeader(0, [{ id: 1, ttlMs: -5, lapsed: false }], E)).toThrow(LatchError);
    expect(() => t.becomeLeader(0, [], -1)).toThrow(LatchError);
    expect(() => new LeaseTracker({ maxCheckpointBatch: 0 })).toThrow(LatchError);
  });
});

describe('the renew rule', () => {
  it('a keepalive acked to a client is never understated by a later leader', () => {
    const sm = new LockStateMachine();
    const ages = new CheckpointAges();
    let index = 0;
    const apply = (cmd: Parameters<LockStateMachine['apply']>[0], now: number): void => {
      index++;
      const out = sm.apply(cmd, { index, term: 1, at: now });
      expect(out.result.ok).toBe(true);
      if (cmd.type === 'open-session' || cmd.type === 'checkpoint-sessions') ages.applied(index, now);
    };
    const T = 10_000;
    const leader1 = new LeaseTracker({ minCheckpointChangeMs: 0 });
    leader1.becomeLeader(0, [], E);
    apply({ type: 'open-session', ttlMs: T, client: 'c' }, 0);
    const id = index;
    leader1.opened(id, T, 0);
    // renew after the open, then the client goes quiet and the leader checkpoints it
    expect(leader1.keepalive(id, 100)).toBe('renew-first');
    apply({ type: 'renew-session', sessionId: id }, 110);
    expect(leader1.renewed(id, 110)).toBe(true);
    const batch = leader1.checkpoint(5000, 2000);
    expect(batch).toEqual([[id, 5110]]);
    // the client's keepalive arrives while the checkpoint is still in flight: it must not be acked directly
    expect(leader1.keepalive(id, 5010)).toBe('renew-first');
    apply({ type: 'checkpoint-sessions', sessions: batch }, 5020);

    // What a later leader would compute if leader 1 had acked at 5010 without the renew:
    // grace = now + min(T, remaining − age + E) with the checkpoint's stale remaining.
    const naive = new LeaseTracker();
    naive.becomeLeader(9000, ages.leaseInputs(sm.sessionLeases(), 9000), E);
    expect(naive.deadline(id)).toBeLessThan(5010 + T); // the client's lease (5010 + T) would be cut short

    // With the rule: the renew commits, then the ack; any later leader keeps at least that lease.
    apply({ type: 'renew-session', sessionId: id }, 5030);
    expect(leader1.renewed(id, 5030)).toBe(true);
    const ackedLeaseEnd = 5010 + T;
    for (const now of [5040, 9000, 14_000]) {
      const next = new LeaseTracker();
      next.becomeLeader(now, ages.leaseInputs(sm.sessionLeases(), now), E);
      expect(next.deadline(id)).toBeGreaterThanOrEqual(ackedLeaseEnd);
    }
  });
});

describe('CheckpointAges', () => {
  it('measures ages from the first apply and forgets what is no longer referenced', () => {
    const a = new CheckpointAges();
    a.applied(5, 100);
    a.applied(5, 200);
    a.applied(9, 300);
    expect(a.ageMs(5, 1000)).toBe(900);
    expect(a.ageMs(7, 1000)).toBe(0);
    expect(a.ageMs(null, 1000)).toBe(0);
    a.retain([9, null]);
    expect(a.size).toBe(1);
    expect(a.ageMs(5, 1000)).toBe(0);
    expect(a.leaseInputs([{ id: 3, ttlMs: 5000, lapsed: true, remainingMs: 100, checkpointIndex: 9 }], 400)).toEqual([
      { id: 3, ttlMs: 5000, lapsed: true, remainingMs: 100, checkpointAgeMs: 100 },
    ]);
  });
});

describe('LeaseTracker.due against a full scan', () => {
  it('lists exactly the tracked sessions past their deadline, whatever the sequence of calls', async () => {
    const { default: fc } = await import('fast-check');
    const op = fc.oneof(
      fc.record({ k: fc.constant('open' as const), id: fc.integer({ min: 1, max: 12 }), ttl: fc.integer({ min: 1, max: 5000 }) }),
      fc.record({ k: fc.constant('keepalive' as const), id: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ k: fc.constant('renew' as const), id: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ k: fc.constant('end' as const), id: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ k: fc.constant('lead' as const), ids: fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { maxLength: 6 }), lapsed: fc.boolean() }),
      fc.record({ k: fc.constant('due' as const) }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(op, fc.integer({ min: 0, max: 1500 })), { maxLength: 80 }), (steps) => {
        const t = new LeaseTracker();
        let now = 0;
        for (const [o, dt] of steps) {
          now += dt;
          if (o.k === 'open' && !t.has(o.id)) t.opened(o.id, o.ttl, now);
          else if (o.k === 'keepalive') t.keepalive(o.id, now);
          else if (o.k === 'renew') t.renewed(o.id, now);
          else if (o.k === 'end') t.ended(o.id);
          else if (o.k === 'lead') t.becomeLeader(now, o.ids.map((id) => ({ id, ttlMs: 2000, lapsed: o.lapsed, remainingMs: o.lapsed ? 300 : null })), 500);
          const expected = Array.from({ length: 12 }, (_, i) => i + 1)
            .filter((id) => t.has(id) && t.deadline(id)! <= now)
            .sort((a, b) => t.deadline(a)! - t.deadline(b)! || a - b);
          expect(t.due(now)).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
