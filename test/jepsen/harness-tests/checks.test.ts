import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.js';
import { HistoryRecorder, pairHistory, type History } from '../checker/index.js';
import { checkRun, lockView, project, registerView } from '../harness/checks.js';
import { FencedRegister } from '../harness/fenced-register.js';
import { checkLeases, renderLeases } from '../harness/lease-check.js';

/** A recorder on a manual clock: each event advances time by 1 ms unless told otherwise. */
function recorder(): { rec: HistoryRecorder; clock: ManualClock; at: (t: number) => void } {
  const clock = new ManualClock();
  const rec = new HistoryRecorder(clock);
  return { rec, clock, at: (t) => clock.advance(t - clock.now()) };
}

/** A clean mutex history: two processes take `a` in turn, prove, write, release. */
function mutexHistory(): History {
  const { rec, at } = recorder();
  at(1);
  rec.invoke(0, 'enter', { name: 'a' });
  rec.invoke(1, 'enter', { name: 'a' });
  at(2);
  rec.ok(0, { token: 10, sessionId: '5' });
  rec.invoke(0, 'held', { name: 'a', token: 10, at: 2.5 });
  rec.ok(0, null);
  at(3);
  rec.invoke(0, 'write', { key: 'a', token: 10, value: 'x' });
  rec.ok(0, { accepted: true });
  at(4);
  rec.invoke(0, 'exit', { name: 'a', token: 10 });
  at(5);
  rec.ok(0, { released: true });
  at(6);
  rec.ok(1, { token: 12, sessionId: '6' });
  rec.invoke(1, 'held', { name: 'a', token: 12, at: 6.5 });
  rec.ok(1, null);
  at(7);
  rec.invoke(1, 'write', { key: 'a', token: 12, value: 'y' });
  rec.ok(1, { accepted: true });
  rec.invoke(0, 'read', { key: 'a' });
  rec.ok(0, { value: 'y' });
  at(8);
  rec.invoke(1, 'exit', { name: 'a', token: 12 });
  rec.ok(1, { released: true });
  return rec.history();
}

const inputs = { lockDelayMs: 1_000, checkTimeoutMs: 10_000, crashes: [], problems: [] };

describe('history views', () => {
  it('renames section ops for the lock model and keeps pairing valid', () => {
    const h = mutexHistory();
    const v = lockView(h);
    expect(new Set(v.map((o) => o.f))).toEqual(new Set(['acquire', 'release']));
    expect(() => pairHistory(v)).not.toThrow();
    expect(registerView(h).map((o) => o.f)).toEqual(['write', 'write', 'write', 'write', 'read', 'read']);
    expect(project(h, {})).toEqual([]);
  });
});

describe('checkRun', () => {
  it('passes a clean mutex history with every checker row present', () => {
    const v = checkRun('mutex', mutexHistory(), inputs);
    expect(v.rows.map((r) => r.name)).toEqual(['locks', 'register', 'fencing', 'leases', 'session-leases', 'nodes', 'harness']);
    expect(v.valid).toBe(true);
    expect(v.linearizable).toBe(true);
  });

  it('fails when a grant overlaps a holder that never released (lock model and lease checker)', () => {
    const { rec, at } = recorder();
    at(1);
    rec.invoke(0, 'enter', { name: 'a' });
    rec.ok(0, { token: 10, sessionId: '5' });
    at(2);
    rec.invoke(1, 'enter', { name: 'a' });
    rec.ok(1, { token: 11, sessionId: '6' });
    at(3);
    rec.invoke(0, 'held', { name: 'a', token: 10, at: 2.5 });
    rec.ok(0, null);
    const v = checkRun('mutex', rec.history(), inputs);
    expect(v.valid).toBe(false);
    expect(v.linearizable).toBe(false);
    expect(v.rows.find((r) => r.name === 'locks')?.valid).toBe(false);
    expect(v.rows.find((r) => r.name === 'leases')?.valid).toBe(false);
  });

  it('fails on a stale write the register accepted (fencing), and marks crashes and protocol problems', () => {
    const { rec, at } = recorder();
    at(1);
    rec.invoke(0, 'write', { key: 'a', token: 20, value: 'new' });
    rec.ok(0, { accepted: true });
    at(2);
    rec.invoke(1, 'write', { key: 'a', token: 19, value: 'old' });
    rec.ok(1, { accepted: true });
    const v = checkRun('sessions', rec.history(), { ...inputs, crashes: ['n1 crashed'], problems: ['lane 0 broke the rules'] });
    expect(v.rows.find((r) => r.name === 'fencing')?.valid).toBe(false);
    expect(v.rows.find((r) => r.name === 'register')?.valid).toBe(false);
    expect(v.rows.find((r) => r.name === 'nodes')?.valid).toBe(false);
    expect(v.rows.find((r) => r.name === 'harness')?.valid).toBe('unknown');
    expect(v.valid).toBe(false);
  });

  it('turns a malformed history into an UNKNOWN row instead of throwing', () => {
    const { rec } = recorder();
    rec.invoke(0, 'observe', { name: 'e' });
    rec.ok(0, null);
    const v = checkRun('election', rec.history(), inputs);
    expect(v.rows[0]).toMatchObject({ name: 'election', checker: 'history', valid: 'unknown' });
    expect(v.rows[0]?.details).toMatch(/observe ok value must be an object/);
    expect(v.valid).toBe('unknown');
  });

  it('uses the election checker for the election workload', () => {
    const { rec, at } = recorder();
    at(1);
    rec.invoke(0, 'campaign', { name: 'e', value: 'a' });
    rec.ok(0, { token: 5 });
    at(2);
    rec.invoke(1, 'campaign', { name: 'e', value: 'b' });
    rec.ok(1, { token: 5 });
    const v = checkRun('election', rec.history(), inputs);
    expect(v.rows[0]?.checker).toBe('election');
    expect(v.rows[0]?.valid).toBe(false);
    expect(v.linearizable).toBeNull();
  });
});

describe('checkLeases', () => {
  it('accepts proofs that precede every newer grant', () => {
    const r = checkLeases(mutexHistory(), { lockDelayMs: 1_000 });
    expect(r).toMatchObject({ valid: true, proofs: 2, grants: 2 });
  });

  it('flags a holder killed and replaced before its last proof plus lock-delay, and reports the handover', () => {
    const { rec, at } = recorder();
    at(10);
    rec.invoke(0, 'enter', { name: 'a' });
    rec.ok(0, { token: 3 });
    rec.invoke(0, 'held', { name: 'a', token: 3, at: 100 });
    rec.ok(0, null);
    at(200);
    rec.invoke(0, 'exit', { name: 'a', token: 3, killed: true });
    rec.info(0, null, 'holder died');
    rec.invoke(1, 'enter', { name: 'a' });
    at(600);
    rec.ok(1, { token: 9 });
    const r = checkLeases(rec.history(), { lockDelayMs: 1_000 });
    expect(r.valid).toBe(false);
    expect(r.findings).toEqual([{ type: 'lock-delay-violated', name: 'a', token: 3, lastProofAt: 100, killedAt: 200, newerToken: 9, grantedAt: 600, allowedAt: 1_100 }]);
    expect(r.handovers).toEqual([{ name: 'a', token: 3, killedAt: 200, lastProofAt: 100, nextGrantAt: 600 }]);
    expect(renderLeases(r)).toContain('before lock-delay allowed');
    // The same handover after the lock-delay is fine.
    expect(checkLeases(rec.history(), { lockDelayMs: 400 }).valid).toBe(true);
  });

  it('rejects proofs without numbers', () => {
    const { rec } = recorder();
    rec.invoke(0, 'held', { name: 'a', token: 'x', at: 1 });
    rec.ok(0, null);
    expect(() => checkLeases(rec.history(), { lockDelayMs: 0 })).toThrow(/held needs/);
  });
});

describe('FencedRegister', () => {
  it('accepts equal or higher tokens and rejects lower ones, per key', () => {
    const r = new FencedRegister();
    expect(r.read('a')).toBeNull();
    expect(r.write('a', 5, 'x')).toBe(true);
    expect(r.write('a', 5, 'y')).toBe(true);
    expect(r.write('a', 4, 'z')).toBe(false);
    expect(r.read('a')).toBe('y');
    expect(r.highest('a')).toBe(5);
    expect(r.write('b', 1, 'w')).toBe(true);
    expect(() => r.write('a', 1.5, 'q')).toThrow(RangeError);
  });

  it('with the planted fault, accepts stale writes too', () => {
    const r = new FencedRegister(false);
    expect(r.write('a', 5, 'x')).toBe(true);
    expect(r.write('a', 4, 'stale')).toBe(true);
    expect(r.read('a')).toBe('stale');
    expect(r.highest('a')).toBe(5);
  });
});
