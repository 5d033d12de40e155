/**
 * LeaderDuties expires sessions in batches: when many deadlines pass together (a client process
 * with many sessions died), one expire-sessions entry per 1000 sessions is proposed, not one entry
 * each; a lone expiry stays an expire-session; a failed batch is proposed again.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { CheckpointAges, LockStateMachine, type LockCommand } from '../../src/lock/index.js';
import { LeaderDuties } from '../../src/server/leader-duties.js';
import { ManualTimers } from '../client/fakes.js';

function duties(fail: (cmd: LockCommand) => boolean) {
  const timers = new ManualTimers();
  const proposed: LockCommand[] = [];
  const d: LeaderDuties = new LeaderDuties({
    propose: (cmd) => {
      proposed.push(cmd);
      if (fail(cmd)) return Promise.reject(new Error('lost'));
      // Applying an expiry ends the sessions (their session-ended effects reach the duties first).
      const ids = cmd.type === 'expire-sessions' ? cmd.sessionIds : cmd.type === 'expire-session' ? [cmd.sessionId] : [];
      for (const sessionId of ids) d.onEffect({ type: 'session-ended', sessionId, reason: 'expired' });
      return Promise.resolve({});
    },
    sm: () => new LockStateMachine(),
    leaseHeld: () => true,
    clock: timers.clock,
    timers,
    log: silentLogger,
    electionTimeoutMs: 1000,
    heartbeatMs: 100,
    lockDelayMs: 0,
    lapseAfterMs: () => 1e9,
    ages: new CheckpointAges(),
  });
  return { d, timers, proposed };
}

const expiries = (cmds: LockCommand[]): LockCommand[] => cmds.filter((c) => c.type === 'expire-session' || c.type === 'expire-sessions');

describe('LeaderDuties expiry batches', () => {
  it('proposes one entry per 1000 sessions whose deadlines passed together', async () => {
    const { d, timers, proposed } = duties(() => false);
    for (let id = 1; id <= 2500; id++) d.onEffect({ type: 'session-opened', sessionId: id, ttlMs: 2000 });
    await timers.advance(2100);
    const e = expiries(proposed);
    expect(e.map((c) => (c.type === 'expire-sessions' ? c.sessionIds.length : 1))).toEqual([1000, 1000, 500]);
    expect(new Set(e.flatMap((c) => (c.type === 'expire-sessions' ? [...c.sessionIds] : [])))).toEqual(new Set(Array.from({ length: 2500 }, (_, i) => i + 1)));
    d.close();
  });

  it('keeps a lone expiry an expire-session, and proposes a failed batch again', async () => {
    let failures = 1;
    const { d, timers, proposed } = duties((cmd) => cmd.type === 'expire-session' && failures-- > 0);
    d.onEffect({ type: 'session-opened', sessionId: 7, ttlMs: 2000 });
    await timers.advance(2100);
    await timers.advance(200);
    const e = expiries(proposed);
    expect(e.length).toBe(2);
    expect(e.every((c) => c.type === 'expire-session' && c.sessionId === 7)).toBe(true);
    d.close();
  });
});
