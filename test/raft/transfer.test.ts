/**
 * Leadership transfer with TimeoutNow (dissertation §3.10).
 */
import { describe, expect, it } from 'vitest';
import { NotLeaderError, type LatchError } from '../../src/common/index.js';
import { Net, data } from './harness.js';

const ids = ['n1', 'n2', 'n3'];

describe('leadership transfer', () => {
  it('to a caught-up voter: TimeoutNow at once, the target wins the next term', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n1').status().term;
    net.core('n1').transferLeadership('n2');
    net.processAll();
    expect(net.queue.filter((m) => m.type === 'timeout-now')).toMatchObject([{ from: 'n1', to: 'n2', term }]);
    net.stabilize();
    expect(net.leaders()).toEqual(['n2']);
    expect(net.core('n2').status().term).toBe(term + 1);
    expect(net.core('n1').status()).toMatchObject({ role: 'follower', leader: 'n2' });
    // The target campaigned without pre-vote, and the voters' leases did not stop it.
    expect(net.sent.filter((m) => m.from === 'n2' && m.type === 'vote').every((m) => m.type === 'vote' && m.transfer === true)).toBe(true);
    expect(net.sent.some((m) => m.from === 'n2' && m.type === 'pre-vote')).toBe(false);
  });

  it('to a lagging voter: it is caught up first, then gets TimeoutNow', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.cutLink('n1', 'n3');
    for (let i = 0; i < 5; i++) net.core('n1').propose(data(`v${i}`));
    net.stabilize();
    net.heal();
    net.core('n1').transferLeadership('n3');
    net.processAll();
    expect(net.queue.some((m) => m.type === 'timeout-now')).toBe(false);
    expect(net.queue.some((m) => m.type === 'append' && m.to === 'n3')).toBe(true);
    net.stabilize();
    expect(net.leaders()).toEqual(['n3']);
    expect(net.appliedTexts('n3')).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('refuses proposals while a transfer is in progress', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.cutLink('n1', 'n2');
    net.core('n1').transferLeadership('n2');
    expect(() => net.core('n1').propose(data('x'))).toThrow(expect.objectContaining({ code: 'PROPOSAL_DROPPED' }) as unknown as LatchError);
  });

  it('is aborted after an election timeout if the target never takes over', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.drop((m) => m.type === 'timeout-now');
    net.core('n1').transferLeadership('n2');
    net.stabilize();
    expect(net.core('n1').status().leadTransferee).toBe('n2');
    net.run(10);
    expect(net.core('n1').status()).toMatchObject({ role: 'leader', leadTransferee: null });
    expect(() => net.core('n1').propose(data('x'))).not.toThrow();
  });

  it('only a leader transfers, and only to a voter', () => {
    const net = new Net(['n1', 'n2', 'n3', 'n4'], { learners: ['n4'] });
    net.elect('n1');
    expect(() => net.core('n2').transferLeadership('n3')).toThrow(NotLeaderError);
    expect(() => net.core('n1').transferLeadership('n4')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown as LatchError);
    expect(() => net.core('n1').transferLeadership('n9')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown as LatchError);
    net.core('n1').transferLeadership('n1'); // to self: nothing to do
    expect(net.core('n1').status().leadTransferee).toBe(null);
  });
});
