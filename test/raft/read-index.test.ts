/**
 * Linearizable reads (dissertation §6.4): ReadIndex with a heartbeat round, forwarding from
 * followers, the single-voter shortcut, and lease reads with their expiry.
 */
import { describe, expect, it } from 'vitest';
import { LatchError, NotLeaderError, SeededRng } from '../../src/common/index.js';
import { RaftCore } from '../../src/raft/index.js';
import { Net, data, firstBoot } from './harness.js';

const ids = ['n1', 'n2', 'n3'];

describe('ReadIndex (safe)', () => {
  it('confirms leadership with a heartbeat round, then answers with the commit index at request time', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.core('n1').propose(data('w'));
    net.stabilize();
    const commit = net.core('n1').status().commit;
    net.core('n1').readIndex('r1');
    net.processAll();
    expect(net.node('n1').readStates).toEqual([]); // not before the quorum answered
    const hbs = net.take((m) => m.type === 'heartbeat');
    expect(hbs.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    for (const m of hbs) net.deliver(m);
    net.stabilize();
    expect(net.node('n1').readStates).toEqual([{ context: 'r1', index: commit }]);
  });

  it('is not answered while the leader cannot reach a quorum', () => {
    const net = new Net(ids, { config: { checkQuorum: false } });
    net.elect('n1');
    net.isolate('n1');
    net.core('n1').readIndex('r1');
    net.run(8); // shorter than the followers' election timeout
    expect(net.node('n1').readStates).toEqual([]);
    net.heal();
    net.run(2);
    expect(net.node('n1').readStates.map((r) => r.context)).toEqual(['r1']);
  });

  it('fails if the cluster moved on to a new leader meanwhile', () => {
    const net = new Net(ids, { config: { checkQuorum: false } });
    net.elect('n1');
    net.isolate('n1');
    net.core('n1').readIndex('r1');
    net.run(40);
    expect(net.leaders().filter((l) => l !== 'n1')).toHaveLength(1);
    net.heal();
    net.run(2);
    expect(net.node('n1').readStates).toEqual([]);
    expect(net.node('n1').failedReads).toEqual(['r1']);
  });

  it('waits until the new leader has committed an entry of its term', () => {
    // Elected, but keep the noop from committing: followers' acks are lost.
    const net2 = new Net(ids);
    net2.drop((m) => m.type === 'append-resp');
    net2.elect('n1');
    expect(net2.core('n1').status().role).toBe('leader');
    net2.core('n1').readIndex('early');
    net2.run(3);
    expect(net2.node('n1').readStates).toEqual([]);
    net2.heal();
    net2.run(3);
    const rs = net2.node('n1').readStates;
    expect(rs.map((r) => r.context)).toEqual(['early']);
    expect(rs[0]?.index).toBe(net2.core('n1').status().commit);
  });

  it('a single-voter cluster answers at once', () => {
    const core = new RaftCore({ id: 'n1' }, firstBoot(['n1']), new SeededRng(1));
    core.campaign();
    for (let i = 0; i < 4 && core.hasReady(); i++) core.advance(core.ready());
    expect(core.status().role).toBe('leader');
    core.readIndex('r');
    const rd = core.ready();
    expect(rd.readStates).toEqual([{ context: 'r', index: core.status().commit }]);
    expect(rd.messages).toEqual([]);
  });

  it('many reads share one heartbeat round', () => {
    const net = new Net(ids);
    net.elect('n1');
    for (let i = 0; i < 10; i++) net.core('n1').readIndex(`r${i}`);
    net.processAll();
    expect(net.take((m) => m.type === 'heartbeat')).toHaveLength(2);
  });

  it('a follower forwards the read to the leader and gets the read index back', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.core('n1').propose(data('w'));
    net.stabilize();
    net.core('n2').readIndex('fr');
    net.stabilize();
    expect(net.sent.some((m) => m.type === 'read-index' && m.from === 'n2' && m.to === 'n1')).toBe(true);
    expect(net.node('n2').readStates).toEqual([{ context: 'fr', index: net.core('n1').status().commit }]);
  });

  it('throws NotLeaderError when no leader is known, INVALID_ARGUMENT for a context already pending', () => {
    const net = new Net(ids);
    expect(() => net.core('n2').readIndex('x')).toThrow(NotLeaderError);
    net.elect('n1');
    net.isolate('n1');
    net.core('n1').readIndex('dup');
    expect(() => net.core('n1').readIndex('dup')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown as LatchError);
  });

  it('reads pending on a leader that steps down fail (failedReads), including forwarded ones', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.cutLink('n1', 'n3');
    net.drop((m) => m.type === 'heartbeat-resp'); // no confirmation can arrive
    net.core('n1').readIndex('local');
    net.core('n2').readIndex('remote');
    net.stabilize();
    expect(net.node('n1').readStates).toEqual([]);
    const term = net.core('n1').status().term;
    net.core('n1').step({ type: 'append-resp', from: 'n2', to: 'n1', term: term + 1, reject: false, index: 0, hintIndex: 0, hintTerm: 0 });
    net.stabilize();
    expect(net.node('n1').failedReads).toEqual(['local']);
    expect(net.node('n2').failedReads).toEqual(['remote']);
  });

  it('a forwarded read that gets no answer fails after an election timeout', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.cutOneWay('n2', 'n1');
    net.core('n2').readIndex('lost');
    net.tick('n2', 10);
    expect(net.node('n2').failedReads).toEqual(['lost']);
  });
});

describe('lease reads (readOnly: lease)', () => {
  function leaseCluster(): Net {
    const net = new Net(ids, { config: { readOnly: 'lease', electionTicks: 10, leaseDriftTicks: 2 } });
    net.elect('n1');
    net.run(1); // one acknowledged heartbeat round
    return net;
  }

  it('answers at once, without any message, while a quorum acked a recent heartbeat', () => {
    const net = leaseCluster();
    net.take();
    net.core('n1').readIndex('lr');
    const rd = net.process('n1');
    expect(rd?.readStates).toEqual([{ context: 'lr', index: net.core('n1').status().commit }]);
    expect(rd?.messages.filter((m) => m.type === 'heartbeat')).toEqual([]);
  });

  it('falls back to a heartbeat round once the lease (electionTicks − leaseDriftTicks) has expired', () => {
    const net = leaseCluster();
    net.isolate('n1');
    net.tick('n1', 7); // 8 − 1 ticks since the last acked round: still valid
    net.take();
    net.core('n1').readIndex('inside');
    net.processAll();
    expect(net.node('n1').readStates.map((r) => r.context)).toEqual(['inside']);
    net.tick('n1', 1); // now 8 ticks: expired
    net.core('n1').readIndex('outside');
    net.processAll();
    expect(net.node('n1').readStates.map((r) => r.context)).toEqual(['inside']);
    net.heal();
    net.run(1);
    expect(net.node('n1').readStates.map((r) => r.context)).toEqual(['inside', 'outside']);
  });

  it('is void once a leadership transfer has sent TimeoutNow', () => {
    const net = leaseCluster();
    net.drop((m) => m.type === 'timeout-now');
    net.core('n1').transferLeadership('n2');
    net.stabilize();
    net.core('n1').transferLeadership('n1'); // cancel: proposals are accepted again, but the lease stays void
    net.core('n1').readIndex('after');
    net.processAll();
    expect(net.node('n1').readStates).toEqual([]);
    expect(net.take((m) => m.type === 'heartbeat')).toHaveLength(2);
  });
});

describe('the leader lease (hasLeaderLease, any read mode): what keepalive acks rely on', () => {
  function cluster(config: Record<string, unknown> = {}): Net {
    const net = new Net(ids, { config: { electionTicks: 10, leaseDriftTicks: 2, ...config } });
    net.elect('n1');
    net.run(1);
    return net;
  }

  it('holds on a leader whose heartbeat round a quorum acked, in safe read mode too, and never on a follower', () => {
    const net = cluster();
    expect(net.core('n1').hasLeaderLease()).toBe(true);
    expect(net.core('n2').hasLeaderLease()).toBe(false);
    expect(net.core('n3').hasLeaderLease()).toBe(false);
  });

  it('ends electionTicks − leaseDriftTicks ticks after the last acked round was sent, while the node still believes it leads', () => {
    // (That no other node can be elected inside it is checked across nodes by the simulator's leader-lease invariant.)
    const net = cluster();
    net.isolate('n1');
    net.tick('n1', 7);
    expect(net.core('n1').hasLeaderLease()).toBe(true);
    net.tick('n1', 1);
    expect(net.core('n1').hasLeaderLease()).toBe(false);
    expect(net.core('n1').status().role).toBe('leader');
  });

  it('comes back with the next acked round once the leader reaches a quorum again', () => {
    const net = cluster();
    net.isolate('n1');
    net.tick('n1', 8);
    expect(net.core('n1').hasLeaderLease()).toBe(false);
    net.heal();
    net.run(1);
    expect(net.core('n1').hasLeaderLease()).toBe(true);
  });

  it('is void once TimeoutNow went out, and without CheckQuorum (followers would not refuse votes)', () => {
    const net = cluster();
    net.drop((m) => m.type === 'timeout-now');
    net.core('n1').transferLeadership('n2');
    net.stabilize();
    expect(net.core('n1').hasLeaderLease()).toBe(false);
    const noCq = cluster({ checkQuorum: false });
    expect(noCq.core('n1').hasLeaderLease()).toBe(false);
  });

  it('holds trivially for a sole voter', () => {
    const net = new Net(['n1'], { config: { electionTicks: 10 } });
    net.elect('n1');
    expect(net.core('n1').hasLeaderLease()).toBe(true);
  });

  it('refuses a drift bound below one tick (a tick count only says how long ago a round left to within one tick)', () => {
    expect(() => new RaftCore({ id: 'n1', electionTicks: 10, leaseDriftTicks: 0 }, firstBoot(['n1']), new SeededRng(1))).toThrow(/leaseDriftTicks/);
  });
});
