/**
 * Session ownership in the state machine (issue 16): a session opened with an `owner` answers
 * only calls whose `caller` is that identity; any other caller (or none) gets PERMISSION_DENIED and
 * nothing changes — no lock, no dedup slot, no event. A session without an owner (no auth) is
 * usable by anyone, as before. The owner survives a snapshot; older snapshots mean "no owner".
 */
import { describe, expect, it } from 'vitest';
import { LockStateMachine, type LockCommand } from '../../src/lock/index.js';
import { Harness, bytes, codeOf } from './harness.js';

function openOwned(h: Harness, owner: string): number {
  const out = h.apply({ type: 'open-session', ttlMs: 10_000, client: 'c', owner });
  if (!out.result.ok || out.result.type !== 'open-session') throw new Error('open failed');
  return out.result.sessionId;
}

describe('session ownership', () => {
  it('refuses every session call from another identity, or from none, and changes nothing', () => {
    const h = new Harness();
    const sid = openOwned(h, 'token:ops');
    const held = h.apply({ type: 'acquire', sessionId: sid, seq: 1, name: 'jobs/a', mode: 'exclusive', waitMs: 0, caller: 'token:ops' });
    expect(held.result.ok).toBe(true);
    expect(h.m.getSession(sid)?.owner).toBe('token:ops');
    const before = h.m.snapshot();
    const foreign: LockCommand[] = [];
    for (const caller of ['token:intruder', undefined]) {
      const c = caller === undefined ? {} : { caller };
      foreign.push(
        { type: 'close-session', sessionId: sid, seq: 5, ...c },
        { type: 'release', sessionId: sid, seq: 5, name: 'jobs/a', ...c },
        { type: 'acquire', sessionId: sid, seq: 5, name: 'jobs/b', mode: 'exclusive', waitMs: 0, ...c },
        { type: 'acquire', sessionId: sid, seq: 1, name: 'jobs/a', mode: 'exclusive', waitMs: 0, ...c }, // a replay of the owner's seq
        { type: 'set-value', sessionId: sid, seq: 5, name: 'jobs/a', value: bytes('x'), ...c },
      );
    }
    for (const cmd of foreign) {
      const out = h.apply(cmd);
      expect(codeOf(out.result), JSON.stringify(cmd)).toBe('PERMISSION_DENIED');
      expect(out.effects).toEqual([]);
      expect(out.events).toEqual([]);
    }
    // Only the applied index moved.
    expect({ ...h.m.snapshot(), appliedIndex: 0 }).toEqual({ ...before, appliedIndex: 0 });
    // The owner carries on: its next seq is accepted.
    expect(h.apply({ type: 'release', sessionId: sid, seq: 2, name: 'jobs/a', caller: 'token:ops' }).result.ok).toBe(true);
  });

  it('a session without an owner (no authentication) is usable by any caller, as before', () => {
    const h = new Harness();
    const sid = h.open();
    expect(h.m.getSession(sid)?.owner).toBe('');
    expect(h.apply({ type: 'acquire', sessionId: sid, seq: 1, name: 'a', mode: 'exclusive', waitMs: 0, caller: 'token:anyone' }).result.ok).toBe(true);
    expect(h.apply({ type: 'release', sessionId: sid, seq: 2, name: 'a' }).result.ok).toBe(true);
  });

  it('keeps the owner across snapshot and restore; a snapshot without owners restores sessions without one', () => {
    const h = new Harness();
    const sid = openOwned(h, 'cert:CN=svc-a');
    const snap = h.m.snapshot();
    const restored = LockStateMachine.restore(snap);
    expect(restored.getSession(sid)?.owner).toBe('cert:CN=svc-a');
    const h2 = new Harness({}, restored);
    expect(codeOf(h2.apply({ type: 'close-session', sessionId: sid, seq: 1, caller: 'cert:CN=svc-b' }).result)).toBe('PERMISSION_DENIED');
    const legacy = { ...snap, sessions: snap.sessions.map(({ owner: _owner, ...rest }) => rest) };
    const old = LockStateMachine.restore(legacy);
    expect(old.getSession(sid)?.owner).toBe('');
  });

  it('refuses malformed owners and callers with INVALID_ARGUMENT', () => {
    const h = new Harness();
    expect(codeOf(h.applyRaw({ type: 'open-session', ttlMs: 10_000, client: 'c', owner: 5 }).result)).toBe('INVALID_ARGUMENT');
    expect(codeOf(h.applyRaw({ type: 'open-session', ttlMs: 10_000, client: 'c', owner: 'x'.repeat(513) }).result)).toBe('INVALID_ARGUMENT');
    const sid = h.open();
    expect(codeOf(h.applyRaw({ type: 'release', sessionId: sid, seq: 1, name: 'a', caller: '' }).result)).toBe('INVALID_ARGUMENT');
  });
});
