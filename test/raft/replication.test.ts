/**
 * Log replication (Raft §5.3, §5.4.2), fast backtracking, flow control, batching and the
 * persistence rules for the leader's own entries and for committed entries.
 */
import { describe, expect, it } from 'vitest';
import { LatchError, NotLeaderError, SeededRng } from '../../src/common/index.js';
import { RaftCore, type Message } from '../../src/raft/index.js';
import { Net, data, text, withLog } from './harness.js';

const ids = ['n1', 'n2', 'n3'];

function appends(msgs: readonly Message[], to?: string): Extract<Message, { type: 'append' }>[] {
  return msgs.filter((m): m is Extract<Message, { type: 'append' }> => m.type === 'append' && (to === undefined || m.to === to));
}

describe('log replication (Raft §5.3)', () => {
  it('replicates proposals to every follower, which apply them in order', () => {
    const net = new Net(ids);
    net.elect('n1');
    for (const s of ['a', 'b', 'c']) net.core('n1').propose(data(s));
    net.stabilize();
    for (const id of ids) expect(net.appliedTexts(id)).toEqual(['a', 'b', 'c']);
  });

  it('a follower rejects an append whose previous entry it does not have (consistency check)', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n2').status().term;
    const last = net.core('n2').status().lastIndex;
    net.take();
    net.core('n2').step({ type: 'append', from: 'n1', to: 'n2', term, prevIndex: last + 5, prevTerm: term, entries: [], commit: 0 });
    net.process('n2');
    const [resp] = net.take((m) => m.type === 'append-resp');
    expect(resp).toMatchObject({ reject: true, index: last + 5, hintIndex: last });
    expect(net.core('n2').status().lastIndex).toBe(last);
  });

  it('a follower replaces conflicting uncommitted entries with the leader’s (log matching)', () => {
    // n3 has two stale entries of term 2 that no one else has; the leader of term 3 overwrites them.
    const net = new Net(ids, {
      initial: { n1: withLog(ids, [1, 1], { term: 2 }), n2: withLog(ids, [1, 1], { term: 2 }), n3: withLog(ids, [1, 1, 2, 2], { term: 2 }) },
      configs: { n3: { checkQuorum: false } },
    });
    net.tick('all', 10); // out of the post-restart quiet period
    net.elect('n1');
    net.core('n1').propose(data('x'));
    net.stabilize();
    const n3 = net.node('n3');
    expect(n3.entries.map((e) => e.term)).toEqual(net.node('n1').entries.map((e) => e.term));
    expect(net.appliedTexts('n3')).toEqual(['e1@1', 'e2@1', 'x']);
  });

  it('a follower proposal throws NotLeaderError with the leader hint', () => {
    const net = new Net(ids);
    net.elect('n1');
    expect(() => net.core('n2').propose(data('x'))).toThrow(NotLeaderError);
    try {
      net.core('n2').propose(data('x'));
    } catch (e) {
      expect((e as NotLeaderError).leaderId).toBe('n1');
    }
  });

  it('heartbeats carry at most the follower’s match as commit (its log may diverge beyond)', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.cutLink('n1', 'n3');
    net.core('n1').propose(data('x'));
    net.stabilize();
    const match3 = net.core('n1').status().progress?.['n3']?.match ?? -1;
    expect(net.core('n1').status().commit).toBeGreaterThan(match3);
    net.heal();
    net.core('n1').tick();
    net.processAll();
    const hb = net.take((m) => m.type === 'heartbeat' && m.to === 'n3')[0];
    expect(hb).toMatchObject({ commit: match3 });
  });
});

describe('commit rules', () => {
  it('§5.4.2: a leader never commits an entry of a previous term by counting replicas', () => {
    // Figure 8: n1 has (2, term 2) which n2 lacks and n3 overwrote with term 3 in its own log.
    const initial = {
      n1: withLog(ids, [1, 2], { term: 3, commit: 1 }),
      n2: withLog(ids, [1], { term: 3, commit: 1 }),
      n3: withLog(ids, [1, 3], { term: 3, commit: 1 }),
    };
    const net = new Net(ids, { initial, config: { maxSizePerMsg: 1, checkQuorum: false } });
    // The new leader's own entry reaches no one (but n2 sees the first probe, so it learns where it stands).
    let probes = 0;
    net.drop((m) => m.type === 'append' && m.entries.some((e) => e.type === 'noop') && (m.to === 'n3' || probes++ > 0));
    net.elect('n1');
    const st = net.core('n1').status();
    expect(st.role).toBe('leader');
    expect(st.progress?.['n2']?.match).toBe(2); // (2, term 2) is on a majority: n1 and n2 ...
    expect(st.commit).toBe(1); // ... and still not committed.
    net.heal();
    net.run(3); // the lost noop is re-sent after a heartbeat round
    expect(net.core('n1').status().commit).toBe(3); // committed together with the noop of term 4
    expect(net.node('n2').applied.map((e) => e.term)).toEqual([1, 2, 4]);
  });

  it('...whereas the planted commitPreviousTerm fault does commit it (teeth for the simulator)', () => {
    const initial = {
      n1: withLog(ids, [1, 2], { term: 3, commit: 1 }),
      n2: withLog(ids, [1], { term: 3, commit: 1 }),
      n3: withLog(ids, [1, 3], { term: 3, commit: 1 }),
    };
    const net = new Net(ids, { initial, config: { maxSizePerMsg: 1, checkQuorum: false, testingFaults: { commitPreviousTerm: true } } });
    let probes = 0;
    net.drop((m) => m.type === 'append' && m.entries.some((e) => e.type === 'noop') && (m.to === 'n3' || probes++ > 0));
    net.elect('n1');
    expect(net.core('n1').status().commit).toBe(2);
  });

  it('the leader counts its own entries toward a commit only after advance()', () => {
    const net = new Net(ids);
    net.elect('n1');
    const leader = net.core('n1');
    net.cutLink('n1', 'n3'); // only n2 acks: the majority needs the leader itself
    const { index } = leader.propose(data('x'));
    const rd = leader.ready();
    for (const m of [...rd.messages, ...rd.persistedMessages]) net.deliver(m);
    net.process('n2');
    for (const m of net.take((m) => m.to === 'n1')) net.deliver(m);
    expect(leader.status().progress?.['n2']?.match).toBe(index);
    expect(leader.status().commit).toBeLessThan(index);
    leader.advance(rd);
    expect(leader.status().commit).toBe(index);
  });

  it('committed entries are handed out only once persisted (by an earlier, advanced Ready)', () => {
    const net = new Net(ids);
    net.elect('n1');
    for (let i = 0; i < 20; i++) {
      net.core('n1').propose(data(`v${i}`));
      if (i % 3 === 0) net.stabilize();
    }
    net.stabilize();
    for (const id of ids) {
      let persisted = 0;
      for (const rd of net.node(id).readies) {
        for (const e of rd.committedEntries) expect(e.index).toBeLessThanOrEqual(persisted);
        persisted = Math.max(persisted, rd.entries.at(-1)?.index ?? 0, rd.snapshot?.meta.index ?? 0);
      }
    }
    expect(net.appliedTexts('n3')).toHaveLength(20);
  });
});

describe('fast backtracking (etcd findConflictByTerm)', () => {
  it('skips a whole conflicting term per round trip instead of one entry', () => {
    const stale = [1, ...Array.from({ length: 50 }, () => 2)];
    const fresh = [1, ...Array.from({ length: 50 }, () => 3)];
    const net = new Net(ids, {
      initial: { n1: withLog(ids, fresh, { term: 3, commit: 1 }), n2: withLog(ids, stale, { term: 3, commit: 1 }), n3: withLog(ids, fresh, { term: 3, commit: 1 }) },
      config: { checkQuorum: false },
    });
    net.elect('n1');
    net.core('n1').propose(data('x'));
    net.stabilize();
    const rejects = net.sent.filter((m) => m.type === 'append-resp' && m.from === 'n2' && m.reject);
    expect(rejects.length).toBeGreaterThan(0);
    expect(rejects.length).toBeLessThanOrEqual(3);
    expect(net.node('n2').entries.map((e) => e.term)).toEqual(net.node('n1').entries.map((e) => e.term));
  });
});

describe('flow control', () => {
  function replicatingCluster(config: Record<string, number>): Net {
    const net = new Net(ids, { config });
    net.elect('n1');
    expect(net.core('n1').status().progress?.['n2']?.state).toBe('replicate');
    net.drop((m) => m.type === 'append-resp' && m.from === 'n2'); // n2's acks never come back
    return net;
  }

  it('at most maxInflightMsgs AppendEntries in flight per follower', () => {
    const net = replicatingCluster({ maxInflightMsgs: 3, maxSizePerMsg: 1 });
    const withEntries = () => appends(net.sent, 'n2').filter((m) => m.entries.length > 0).length;
    const before = withEntries();
    for (let i = 0; i < 10; i++) {
      net.core('n1').propose(data(`v${i}`));
      net.stabilize();
    }
    expect(withEntries() - before).toBe(3);
    expect(net.core('n1').status().progress?.['n2']?.inflight).toBe(3);
    // n3 acks, so it got everything.
    expect(net.core('n1').status().progress?.['n3']?.match).toBe(net.core('n1').status().lastIndex);
  });

  it('at most maxSizePerMsg bytes of entries per AppendEntries (at least one entry)', () => {
    const net = new Net(ids, { config: { maxSizePerMsg: 10 } });
    net.elect('n1');
    for (let i = 0; i < 6; i++) net.core('n1').propose(data('12345')); // 5 bytes each
    net.core('n1').propose(data('x'.repeat(40))); // bigger than a message on its own
    net.processAll();
    const sizes = appends(net.take(), 'n2').map((m) => m.entries.reduce((n, e) => n + (e.type === 'normal' ? e.data.length : 0), 0));
    expect(sizes).toEqual([10, 10, 10, 40]);
  });

  it('at most maxInflightBytes of entry data in flight per follower', () => {
    const net = replicatingCluster({ maxInflightBytes: 20, maxSizePerMsg: 1 });
    for (let i = 0; i < 10; i++) net.core('n1').propose(data('1234567')); // 7 bytes each
    net.stabilize();
    const inflight = appends(net.sent, 'n2').filter((m) => m.entries.some((e) => e.type === 'normal'));
    expect(inflight).toHaveLength(3); // 7 + 7 + 7 ≥ 20: full after the third
  });

  it('a follower in probe state gets one AppendEntries at a time', () => {
    const net = new Net(ids, { config: { maxSizePerMsg: 1 } });
    net.elect('n1');
    net.isolate('n3');
    for (let i = 0; i < 5; i++) net.core('n1').propose(data(`v${i}`));
    net.stabilize();
    net.heal();
    net.core('n1').reportUnreachable('n3');
    expect(net.core('n1').status().progress?.['n3']?.state).toBe('probe');
    net.core('n1').propose(data('more'));
    net.processAll();
    expect(appends(net.take(), 'n3')).toHaveLength(1);
  });

  it('proposals are refused (PROPOSAL_DROPPED) beyond maxUncommittedBytes', () => {
    const net = new Net(ids, { config: { maxUncommittedBytes: 30 } });
    net.elect('n1');
    net.isolate('n1');
    const leader = net.core('n1');
    leader.propose(data('x'.repeat(20)));
    leader.propose(data('x'.repeat(10)));
    expect(() => leader.propose(data('x'))).toThrow(expect.objectContaining({ code: 'PROPOSAL_DROPPED' }) as unknown as LatchError);
    net.heal();
    net.stabilize();
    expect(leader.uncommittedBytes()).toBe(0);
    expect(() => leader.propose(data('x'))).not.toThrow();
  });
});

describe('proposal batching', () => {
  it('many proposals before one ready() go out as one AppendEntries per follower', () => {
    const net = new Net(ids);
    net.elect('n1');
    for (let i = 0; i < 25; i++) net.core('n1').propose(data(`v${i}`));
    const rd = net.core('n1').ready();
    const sent = appends(rd.messages);
    expect(sent.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    for (const m of sent) expect(m.entries).toHaveLength(25);
    expect(rd.entries).toHaveLength(25);
    net.core('n1').advance(rd);
  });

  it('the leader’s AppendEntries may leave before its own write (messages, not persistedMessages)', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.core('n1').propose(data('x'));
    const rd = net.core('n1').ready();
    expect(appends(rd.messages)).toHaveLength(2);
    expect(rd.persistedMessages).toEqual([]);
    expect(rd.mustSync).toBe(true);
  });

  it('a follower’s append responses wait for its write (persistedMessages)', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.core('n1').propose(data('x'));
    net.process('n1');
    for (const m of net.take((m) => m.to === 'n2')) net.deliver(m);
    const rd = net.core('n2').ready();
    expect(rd.entries.map(text)).toEqual(['x']);
    expect(rd.messages.filter((m) => m.type === 'append-resp')).toEqual([]);
    expect(rd.persistedMessages.map((m) => m.type)).toEqual(['append-resp']);
  });
});

describe('restart', () => {
  it('a restarted node re-delivers committed entries after its applied index and keeps its log', () => {
    const net = new Net(ids);
    net.elect('n1');
    for (const s of ['a', 'b']) net.core('n1').propose(data(s));
    net.stabilize();
    const back = net.restart('n2');
    expect(back.core.status().lastIndex).toBe(net.core('n1').status().lastIndex);
    net.processAll();
    expect(net.appliedTexts('n2')).toEqual(['a', 'b']);
  });

  it('a core rebuilt from the same durable state and seed behaves identically', () => {
    const make = () => new RaftCore({ id: 'n1' }, withLog(ids, [1, 1, 2], { term: 2, commit: 3 }), new SeededRng(3));
    const a = make();
    const b = make();
    for (let i = 0; i < 40; i++) {
      a.tick();
      b.tick();
    }
    expect(a.ready()).toEqual(b.ready());
  });
});
