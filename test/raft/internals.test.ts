/**
 * The core's small pure pieces: quorum arithmetic, progress and inflights, the in-memory log,
 * and heartbeat rounds for reads.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/log.js';
import { Inflights, Progress } from '../../src/raft/progress.js';
import { majorityValue, quorumSize, voteResult } from '../../src/raft/quorum.js';
import { ReadOnly, parseRoundContext, roundContext } from '../../src/raft/read-only.js';
import type { Entry } from '../../src/raft/index.js';
import { data } from './harness.js';

const conf = { voters: ['a', 'b', 'c'], learners: [] };
const ent = (index: number, term: number): Entry => ({ type: 'normal', index, term, data: data(`${index}`) });

describe('quorum', () => {
  it('majorities', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });

  it('majorityValue is the largest value a majority reached (brute-force check)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(100), { minLength: 1, maxLength: 7 }), (vals) => {
        const voters = vals.map((_, i) => `v${i}`);
        const got = majorityValue(voters, (id) => vals[Number(id.slice(1))] ?? 0);
        const reached = (x: number) => vals.filter((v) => v >= x).length >= quorumSize(vals.length);
        expect(reached(got)).toBe(true);
        expect(reached(got + 1)).toBe(false);
      }),
      { seed: 3 },
    );
  });

  it('voteResult', () => {
    const v = ['a', 'b', 'c'];
    expect(voteResult(v, new Map([['a', true]]))).toBe('pending');
    expect(voteResult(v, new Map([['a', true], ['b', true]]))).toBe('won');
    expect(voteResult(v, new Map([['a', false], ['b', false]]))).toBe('lost');
    expect(voteResult(v, new Map([['x', true], ['y', true], ['a', true]]))).toBe('pending'); // outsiders do not count
    expect(voteResult([], new Map())).toBe('lost');
  });
});

describe('inflights and progress', () => {
  it('inflights fill by count or bytes and free up to an acked index', () => {
    const inf = new Inflights(3, 100);
    inf.add(1, 10);
    inf.add(2, 10);
    expect(inf.full()).toBe(false);
    inf.add(5, 10);
    expect(inf.full()).toBe(true);
    inf.freeLE(2);
    expect([inf.count(), inf.bytes(), inf.full()]).toEqual([1, 10, false]);
    inf.add(6, 95);
    expect(inf.full()).toBe(true); // by bytes
    inf.freeLE(100);
    expect(inf.count()).toBe(0);
  });

  it('probe sends one message at a time; replicate streams until the window is full', () => {
    const pr = new Progress(5, false, 2, 1000);
    pr.sentEntries(2, 10, 6);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(6);
    expect(pr.isPaused()).toBe(false);
    pr.becomeReplicate();
    expect(pr.next).toBe(7);
    pr.sentEntries(1, 1, 7);
    pr.sentEntries(1, 1, 8);
    expect([pr.next, pr.isPaused()]).toEqual([9, true]);
    pr.maybeUpdate(7);
    pr.inflights.freeLE(7);
    expect(pr.isPaused()).toBe(false);
  });

  it('maybeDecrTo ignores stale rejections and jumps to the hint', () => {
    const pr = new Progress(10, false, 8, 1000);
    expect(pr.maybeDecrTo(5, 3)).toBe(false); // we did not send prevIndex 5
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(4);
    pr.match = 3;
    pr.becomeReplicate();
    expect(pr.maybeDecrTo(2, 0)).toBe(false); // at or below match: stale
  });

  it('snapshot state pauses until it resolves, then probes after the snapshot', () => {
    const pr = new Progress(2, false, 8, 1000);
    pr.becomeSnapshot(50);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.next).toBe(51);
  });
});

describe('RaftLog', () => {
  const make = () => new RaftLog({ entries: [ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)], commit: 2, applied: 0, bootstrap: conf });

  it('terms, matching and up-to-dateness (§5.4.1)', () => {
    const log = make();
    expect([log.term(0), log.term(3), log.term(6)]).toEqual([0, 2, undefined]);
    expect(log.isUpToDate(5, 3)).toBe(true);
    expect(log.isUpToDate(4, 3)).toBe(false);
    expect(log.isUpToDate(1, 4)).toBe(true);
  });

  it('maybeAppend truncates conflicts, keeps matching entries, and never truncates past the message', () => {
    const log = make();
    expect(log.maybeAppend(2, 1, 9, [ent(3, 2)])).toEqual({ type: 'ok', lastNew: 3 });
    expect(log.lastIndex()).toBe(5); // nothing conflicted: entries 4, 5 stay
    expect(log.committed).toBe(3); // min(leader commit, last new)
    expect(log.maybeAppend(3, 2, 3, [ent(4, 4)])).toEqual({ type: 'ok', lastNew: 4 });
    expect([log.lastIndex(), log.term(4)]).toEqual([4, 4]);
    expect(log.maybeAppend(4, 9, 3, [])).toEqual({ type: 'mismatch' });
    expect(log.maybeAppend(1, 1, 3, [ent(2, 7)])).toEqual({ type: 'conflict-below-commit', index: 2 });
    expect(log.term(2)).toBe(1);
  });

  it('findConflictByTerm finds the last index whose term is ≤ the given one', () => {
    const log = make();
    expect(log.findConflictByTerm(5, 2)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(5, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(9, 3)).toEqual({ index: 5, term: 3 });
    expect(log.findConflictByTerm(5, 0)).toEqual({ index: 0, term: 0 });
  });

  it('hands out entries once, and committed entries only once they are durable', () => {
    const log = new RaftLog({ entries: [], commit: 0, applied: 0, bootstrap: conf });
    log.append([ent(1, 1), ent(2, 1)]);
    log.commitTo(2);
    const w = log.takeWork();
    expect(w.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(w.committed).toEqual([]);
    expect(log.takeWork()).toEqual({ entries: [], committed: [] });
    log.persisted(w.entries, undefined, 0);
    expect(log.stable).toBe(2);
    const w2 = log.takeWork();
    expect(w2.committed.map((e) => e.index)).toEqual([1, 2]);
    log.persisted([], undefined, 2);
    expect(log.applied).toBe(2);
  });

  it('a truncation lowers the stable index; a stale persist does not raise it', () => {
    const log = make();
    const w = { entries: [ent(6, 3)] };
    log.append(w.entries);
    log.takeWork();
    log.maybeAppend(5, 3, 0, [ent(6, 4)]); // overwritten before the write completed
    log.persisted(w.entries, undefined, 0);
    expect(log.stable).toBe(5);
  });

  it('restore and compact move the snapshot base; confAt answers for any index after it', () => {
    const log = make();
    log.append([{ type: 'conf', index: 6, term: 3, change: { type: 'add-learner', node: 'd' } }, ent(7, 3)]);
    expect(log.confAt(5)).toEqual(conf);
    expect(log.confAt(6)).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    log.commitTo(7);
    log.takeWork();
    log.persisted([ent(7, 3)], undefined, 7);
    const meta = log.compact(6);
    expect(meta).toEqual({ index: 6, term: 3, confState: { voters: ['a', 'b', 'c'], learners: ['d'] } });
    expect([log.firstIndex(), log.term(6), log.term(5)]).toEqual([7, 3, undefined]);
    const snap = { meta: { index: 20, term: 5, confState: conf }, data: data('s') };
    expect(log.restore(snap)).toBe(true);
    expect([log.lastIndex(), log.committed, log.confState()]).toEqual([20, 20, conf]);
    expect(log.takeWork().snapshot).toBe(snap);
  });
});

describe('ReadOnly rounds', () => {
  it('round contexts round-trip and reject junk', () => {
    expect(parseRoundContext(roundContext(42))).toBe(42);
    for (const junk of [undefined, '', 'r', 'rx', 'r-1', 'r1.5', 'read-1', 'r1234567890123456']) expect(parseRoundContext(junk)).toBeUndefined();
  });

  it('a read is confirmed only by a quorum acking a round sent after it arrived', () => {
    const ro = new ReadOnly();
    const voters = ['a', 'b', 'c'];
    const r1 = ro.startRound(0, 100);
    ro.ack('b', r1);
    ro.markSent();
    const r2 = ro.startRound(1, 100);
    ro.add({ context: 'x', from: null, index: 7, round: r2 });
    expect(ro.takeConfirmed(voters, 'a')).toEqual([]); // b acked an older round only
    ro.ack('c', r2);
    expect(ro.takeConfirmed(voters, 'a').map((r) => r.context)).toEqual(['x']);
  });

  it('the lease tick is the send tick of the newest round a quorum acked', () => {
    const ro = new ReadOnly();
    const voters = ['a', 'b', 'c'];
    ro.startRound(10, 100);
    const r2 = ro.startRound(12, 100);
    expect(ro.quorumAckTick(voters, 'a')).toBeUndefined();
    ro.ack('b', r2);
    expect(ro.quorumAckTick(voters, 'a')).toBe(12);
    ro.ack('c', 99); // a round we never sent is ignored
    expect(ro.confirmedRound(voters, 'a')).toBe(r2);
  });
});
