/**
 * Membership changes one server at a time (dissertation §4.1): effective on append, reverted on
 * truncation, at most one uncommitted, only after the leader committed in its term; learners.
 */
import { describe, expect, it } from 'vitest';
import { SeededRng, type LatchError } from '../../src/common/index.js';
import { RaftCore, nextConfiguration, type ConfState, type Entry } from '../../src/raft/index.js';
import { Net, data, firstBoot } from './harness.js';

const ids = ['n1', 'n2', 'n3'];
const code = (c: string) => expect.objectContaining({ code: c }) as unknown as LatchError;

/** A 3-voter cluster led by n1, plus n4 started empty (no bootstrap: it joins). */
function withJoiner(): Net {
  const net = new Net(ids);
  net.add('n4', { hardState: { term: 0, vote: null, commit: 0 }, entries: [] });
  net.elect('n1');
  return net;
}

describe('nextConfiguration', () => {
  const c: ConfState = { voters: ['a', 'b'], learners: ['l'] };
  it.each([
    [{ type: 'add-learner', node: 'x' }, { voters: ['a', 'b'], learners: ['l', 'x'] }],
    [{ type: 'add-voter', node: 'x' }, { voters: ['a', 'b', 'x'], learners: ['l'] }],
    [{ type: 'promote', node: 'l' }, { voters: ['a', 'b', 'l'], learners: [] }],
    [{ type: 'remove', node: 'a' }, { voters: ['b'], learners: ['l'] }],
    [{ type: 'remove', node: 'l' }, { voters: ['a', 'b'], learners: [] }],
  ] as const)('%j', (change, expected) => {
    expect(nextConfiguration(c, change)).toEqual({ ok: true, conf: expected });
  });
  it.each([
    { type: 'add-learner', node: 'a' },
    { type: 'add-voter', node: 'l' },
    { type: 'promote', node: 'a' },
    { type: 'promote', node: 'x' },
    { type: 'remove', node: 'x' },
  ] as const)('refuses %j', (change) => {
    expect(nextConfiguration(c, change).ok).toBe(false);
  });
  it('refuses removing the last voter', () => {
    expect(nextConfiguration({ voters: ['a'], learners: [] }, { type: 'remove', node: 'a' }).ok).toBe(false);
  });
});

describe('bootstrap (genesis entries)', () => {
  it('a first boot writes the bootstrap configuration into the log, committed, at term 1', () => {
    const core = new RaftCore({ id: 'n2' }, firstBoot(['n3', 'n1', 'n2'], ['n9']), new SeededRng(1));
    const rd = core.ready();
    expect(rd.entries.map((e) => (e.type === 'conf' ? [e.index, e.term, e.change.type, e.change.node] : []))).toEqual([
      [1, 1, 'add-voter', 'n1'],
      [2, 1, 'add-voter', 'n2'],
      [3, 1, 'add-voter', 'n3'],
      [4, 1, 'add-learner', 'n9'],
    ]);
    expect(rd.hardState).toEqual({ term: 1, vote: null, commit: 4 });
    expect(rd.mustSync).toBe(true);
    expect(rd.committedEntries).toEqual([]); // applied once durable, in the next Ready
    core.advance(rd);
    expect(core.ready().committedEntries).toEqual(rd.entries);
    expect(core.status().confState).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n9'] });
  });

  it('a node that joins with no state learns the whole configuration from the leader’s log', () => {
    const net = withJoiner();
    expect(net.core('n4').status().confState).toEqual({ voters: [], learners: [] });
    net.core('n1').proposeConfChange({ type: 'add-learner', node: 'n4' });
    net.stabilize();
    expect(net.core('n4').status().confState).toEqual({ voters: ids, learners: ['n4'] });
  });
});

describe('conf changes', () => {
  it('take effect on append: the leader replicates to a new learner before the entry commits', () => {
    const net = withJoiner();
    net.cutLink('n1', 'n2');
    net.cutLink('n1', 'n3'); // nothing can commit
    const { index } = net.core('n1').proposeConfChange({ type: 'add-learner', node: 'n4' });
    expect(net.core('n1').status().confState.learners).toEqual(['n4']);
    expect(net.core('n1').status().progress?.['n4']).toMatchObject({ learner: true });
    net.stabilize();
    expect(net.core('n1').status().commit).toBeLessThan(index);
    expect(net.core('n4').status().lastIndex).toBe(index); // the learner has the log
  });

  it('learners receive and apply the log but do not count toward commits', () => {
    const net = withJoiner();
    net.core('n1').proposeConfChange({ type: 'add-learner', node: 'n4' });
    net.stabilize();
    net.cutLink('n1', 'n2');
    net.cutLink('n1', 'n3');
    const { index } = net.core('n1').propose(data('x'));
    net.stabilize();
    expect(net.core('n1').status().progress?.['n4']?.match).toBe(index);
    expect(net.core('n1').status().commit).toBeLessThan(index); // n1 + learner n4 is not a quorum of 3
    net.heal();
    net.run(2);
    expect(net.appliedTexts('n4')).toEqual(['x']);
  });

  it('at most one uncommitted conf change', () => {
    const net = withJoiner();
    net.isolate('n1');
    net.core('n1').proposeConfChange({ type: 'add-learner', node: 'n4' });
    expect(() => net.core('n1').proposeConfChange({ type: 'remove', node: 'n3' })).toThrow(code('CONF_CHANGE_IN_PROGRESS'));
    net.heal();
    net.stabilize();
    expect(() => net.core('n1').proposeConfChange({ type: 'remove', node: 'n3' })).not.toThrow();
  });

  it('a new leader proposes one only after committing an entry of its term', () => {
    const net = new Net(ids);
    net.drop((m) => m.type === 'append-resp');
    net.elect('n1');
    expect(net.core('n1').status().role).toBe('leader');
    expect(() => net.core('n1').proposeConfChange({ type: 'remove', node: 'n3' })).toThrow(code('CONF_CHANGE_IN_PROGRESS'));
    net.heal();
    net.run(2);
    expect(() => net.core('n1').proposeConfChange({ type: 'remove', node: 'n3' })).not.toThrow();
  });

  it('refuses nonsense with INVALID_ARGUMENT, and non-leaders with NotLeaderError', () => {
    const net = withJoiner();
    const leader = net.core('n1');
    expect(() => leader.proposeConfChange({ type: 'add-voter', node: 'n2' })).toThrow(code('INVALID_ARGUMENT'));
    expect(() => leader.proposeConfChange({ type: 'promote', node: 'n2' })).toThrow(code('INVALID_ARGUMENT'));
    expect(() => leader.proposeConfChange({ type: 'remove', node: 'n7' })).toThrow(code('INVALID_ARGUMENT'));
    expect(() => leader.proposeConfChange({ type: 'wat', node: 'n7' } as never)).toThrow(code('INVALID_ARGUMENT'));
    expect(() => leader.proposeConfChange({ type: 'remove', node: 'bad id!' })).toThrow(code('INVALID_ARGUMENT'));
    expect(() => net.core('n2').proposeConfChange({ type: 'remove', node: 'n3' })).toThrow(code('NOT_LEADER'));
  });

  it('promotes a learner only once it has caught up with the commit index', () => {
    const net = withJoiner();
    net.cutLink('n1', 'n4');
    net.core('n1').proposeConfChange({ type: 'add-learner', node: 'n4' });
    net.stabilize();
    expect(() => net.core('n1').proposeConfChange({ type: 'promote', node: 'n4' })).toThrow(code('PROPOSAL_DROPPED'));
    net.heal();
    net.run(2);
    net.core('n1').proposeConfChange({ type: 'promote', node: 'n4' });
    net.stabilize();
    expect(net.core('n1').status().confState).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
    // Now a quorum is 3 of 4: n1 + n4 + one more.
    net.cutLink('n1', 'n2');
    net.cutLink('n1', 'n3');
    const { index } = net.core('n1').propose(data('y'));
    net.stabilize();
    expect(net.core('n1').status().commit).toBeLessThan(index);
  });

  it('a configuration is reverted when its entry is truncated', () => {
    const net = withJoiner();
    const n3 = net.core('n3');
    const st = n3.status();
    const k = st.lastIndex + 1;
    const conf: Entry = { type: 'conf', term: st.term, index: k, change: { type: 'add-learner', node: 'n4' } };
    n3.step({ type: 'append', from: 'n1', to: 'n3', term: st.term, prevIndex: st.lastIndex, prevTerm: st.term, entries: [conf], commit: st.commit });
    expect(n3.status().confState.learners).toEqual(['n4']);
    // A leader of the next term has another entry at k.
    const other: Entry = { type: 'noop', term: st.term + 1, index: k };
    n3.step({ type: 'append', from: 'n2', to: 'n3', term: st.term + 1, prevIndex: st.lastIndex, prevTerm: st.term, entries: [other], commit: st.commit });
    expect(n3.status().confState).toEqual({ voters: ids, learners: [] });
    expect(n3.status().lastIndex).toBe(k);
  });

  it('removing a follower shrinks the quorum', () => {
    const net = new Net(['n1', 'n2', 'n3', 'n4']);
    net.elect('n1');
    net.core('n1').proposeConfChange({ type: 'remove', node: 'n4' });
    net.stabilize();
    net.isolate('n4');
    net.cutLink('n1', 'n3');
    const { index } = net.core('n1').propose(data('z'));
    net.stabilize();
    expect(net.core('n1').status().commit).toBe(index); // n1 + n2 of {n1, n2, n3}
  });

  it('a leader that removes itself steps down once the removal commits, and never campaigns again', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.core('n1').proposeConfChange({ type: 'remove', node: 'n1' });
    expect(net.core('n1').status().role).toBe('leader'); // until it commits
    net.stabilize();
    expect(net.core('n1').status()).toMatchObject({ role: 'follower', confState: { voters: ['n2', 'n3'], learners: [] } });
    const mark = net.sent.length;
    net.run(40);
    const leaders = net.leaders();
    expect(leaders).toHaveLength(1);
    expect(leaders[0]).not.toBe('n1');
    expect(net.sent.slice(mark).some((m) => m.from === 'n1' && (m.type === 'vote' || m.type === 'pre-vote'))).toBe(false);
  });

  it('compaction records the configuration in force at the snapshot index', () => {
    const net = withJoiner();
    net.core('n1').propose(data('a'));
    net.stabilize();
    const before = net.core('n1').status().applied;
    net.core('n1').proposeConfChange({ type: 'add-learner', node: 'n4' });
    net.stabilize();
    const meta = net.core('n1').compact(before);
    expect(meta.confState).toEqual({ voters: ids, learners: [] });
    expect(net.compact('n1').meta.confState).toEqual({ voters: ids, learners: ['n4'] });
  });
});
