/**
 * PreVote (dissertation §9.6) and CheckQuorum: a partitioned node must not depose a healthy
 * leader when it comes back, and a leader cut off from its quorum steps down.
 */
import { describe, expect, it } from 'vitest';
import { Net } from './harness.js';

const ids = ['n1', 'n2', 'n3'];

describe('PreVote', () => {
  it('a partitioned node rejoining does not depose a healthy leader (and its term never grew)', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n1').status().term;
    net.isolate('n3');
    net.run(100); // n3 pre-campaigns again and again, in vain
    expect(net.sent.some((m) => m.from === 'n3' && m.type === 'pre-vote')).toBe(true);
    expect(net.core('n3').status().term).toBe(term);
    net.heal();
    net.run(30);
    expect(net.leaders()).toEqual(['n1']);
    expect(net.core('n1').status().term).toBe(term);
    expect(net.core('n3').status()).toMatchObject({ leader: 'n1', term });
  });

  it('without PreVote, the same rejoin disrupts the cluster (which is why PreVote is on by default)', () => {
    const net = new Net(ids, { config: { preVote: false } });
    net.elect('n1');
    const term = net.core('n1').status().term;
    net.isolate('n3');
    net.run(100);
    expect(net.core('n3').status().term).toBeGreaterThan(term + 3);
    net.heal();
    net.run(1);
    // n3's higher term reaches the leader (in its answer to a heartbeat): the leader steps down.
    expect(net.core('n1').status().term).toBeGreaterThan(term);
  });

  it('a pre-candidate does not change its term or vote; a successful pre-vote leads to a real election', () => {
    const net = new Net(ids);
    net.processAll();
    const before = net.core('n1').status();
    net.core('n1').campaign();
    expect(net.core('n1').status()).toMatchObject({ role: 'pre-candidate', term: before.term, vote: before.vote });
    net.processAll();
    const preVotes = net.take();
    expect(preVotes.map((m) => [m.type, m.term])).toEqual([
      ['pre-vote', before.term + 1],
      ['pre-vote', before.term + 1],
    ]);
    for (const m of preVotes) net.deliver(m);
    // Voters answered without changing their own term.
    expect(net.core('n2').status().term).toBe(before.term);
    net.stabilize();
    expect(net.core('n1').status()).toMatchObject({ role: 'leader', term: before.term + 1 });
  });

  it('a stale pre-vote (lower term) is rejected with our term', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n2').status().term;
    net.core('n2').step({ type: 'pre-vote', from: 'n3', to: 'n2', term: term - 1, lastIndex: 100, lastTerm: term });
    net.process('n2');
    expect(net.take((m) => m.type === 'pre-vote-resp')).toEqual([{ type: 'pre-vote-resp', from: 'n2', to: 'n3', term, reject: true }]);
  });
});

describe('CheckQuorum', () => {
  it('a leader that has not heard from a quorum within an election timeout steps down', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.isolate('n1');
    let ticks = 0;
    while (net.core('n1').status().role === 'leader' && ticks < 100) {
      net.run(1);
      ticks++;
    }
    expect(net.core('n1').status().role).toBe('follower');
    expect(ticks).toBeLessThanOrEqual(20); // at most two election timeouts
  });

  it('a leader with a live quorum stays, even with one follower gone', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.isolate('n3');
    net.run(60);
    expect(net.core('n1').status().role).toBe('leader');
  });

  it('without CheckQuorum an isolated leader stays leader', () => {
    const net = new Net(ids, { config: { checkQuorum: false } });
    net.elect('n1');
    net.isolate('n1');
    net.run(60);
    expect(net.core('n1').status().role).toBe('leader');
  });

  it('a follower that heard from its leader within the election timeout ignores vote requests', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n2').status().term;
    const last = net.core('n2').status().lastIndex;
    net.core('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 1, lastIndex: last, lastTerm: term });
    net.core('n2').step({ type: 'pre-vote', from: 'n3', to: 'n2', term: term + 1, lastIndex: last, lastTerm: term });
    net.process('n2');
    expect(net.take((m) => m.from === 'n2' && m.to === 'n3')).toEqual([]);
    expect(net.core('n2').status()).toMatchObject({ term, leader: 'n1' });
  });

  it('keeps ignoring them when a higher term reaches it by another message (the lease promise is about time, not terms)', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n2').status().term;
    const last = net.core('n2').status().lastIndex;
    // A stale-term answer from a node that ran ahead (e.g. to one of n2's appends from an older term).
    net.core('n2').step({ type: 'append-resp', from: 'n3', to: 'n2', term: term + 3, reject: false, index: 0, hintIndex: 0, hintTerm: 0 });
    expect(net.core('n2').status()).toMatchObject({ term: term + 3, leader: null });
    net.core('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 3, lastIndex: last, lastTerm: term });
    net.process('n2');
    expect(net.take((m) => m.type === 'vote-resp')).toEqual([]);
    net.isolate('n2');
    net.tick('n2', 10); // an election timeout after the leader's last message
    net.heal();
    net.take();
    net.core('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 4, lastIndex: last, lastTerm: term });
    net.process('n2');
    expect(net.take((m) => m.type === 'vote-resp')).toMatchObject([{ reject: false }]);
  });

  it('...unless the request is a leadership transfer', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n2').status().term;
    const last = net.core('n2').status().lastIndex;
    net.core('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 1, lastIndex: last, lastTerm: term, transfer: true });
    net.process('n2');
    expect(net.take((m) => m.type === 'vote-resp')).toEqual([{ type: 'vote-resp', from: 'n2', to: 'n3', term: term + 1, reject: false }]);
  });

  it('a follower that has not heard from the leader for an election timeout votes again', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n2').status().term;
    const last = net.core('n2').status().lastIndex;
    net.isolate('n1');
    for (let i = 0; i < 10; i++) net.core('n2').tick();
    net.processAll();
    net.take();
    net.core('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 1, lastIndex: last, lastTerm: term });
    net.process('n2');
    expect(net.take((m) => m.type === 'vote-resp')).toMatchObject([{ reject: false }]);
  });

  it('a restarted node ignores vote requests for one election timeout (it may have backed a lease)', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.restart('n2');
    const term = net.core('n2').status().term;
    const last = net.core('n2').status().lastIndex;
    net.take();
    net.core('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 1, lastIndex: last, lastTerm: term });
    net.process('n2');
    expect(net.take((m) => m.type === 'vote-resp')).toEqual([]);
    net.isolate('n2');
    net.tick('n2', 10);
    net.heal();
    net.take();
    net.core('n2').step({ type: 'vote', from: 'n3', to: 'n2', term: term + 5, lastIndex: last + 10, lastTerm: term });
    net.process('n2');
    expect(net.take((m) => m.type === 'vote-resp')).toMatchObject([{ reject: false }]);
  });
});
