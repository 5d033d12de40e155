/**
 * Leader election, one test per rule of the Raft paper §5.2 / §5.4.1 and the persistence rule.
 */
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/common/index.js';
import { RaftCore, type Message } from '../../src/raft/index.js';
import { Net, firstBoot, withLog } from './harness.js';

const ids = ['n1', 'n2', 'n3'];

function vote(from: string, to: string, term: number, lastIndex: number, lastTerm: number): Message {
  return { type: 'vote', from, to, term, lastIndex, lastTerm };
}

describe('election (Raft §5.2)', () => {
  it('a follower campaigns after a randomized timeout in [electionTicks, 2×electionTicks)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const core = new RaftCore({ id: 'n1', electionTicks: 10, preVote: false }, firstBoot(ids), new SeededRng(seed));
      let ticks = 0;
      while (core.status().role === 'follower' && ticks < 100) {
        core.tick();
        ticks++;
      }
      expect(core.status().role).toBe('candidate');
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(3); // actually randomized
  });

  it('electionJitterTicks narrows the random part: [electionTicks, electionTicks + jitter)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const core = new RaftCore({ id: 'n1', electionTicks: 10, electionJitterTicks: 5, preVote: false }, firstBoot(ids), new SeededRng(seed));
      let ticks = 0;
      while (core.status().role === 'follower' && ticks < 100) {
        core.tick();
        ticks++;
      }
      seen.add(ticks);
    }
    // Simulated ticks, not time: every timeout lies in [10, 15).
    expect([...seen].every((t) => t >= 10 && t < 15)).toBe(true);
    expect(seen.size).toBeGreaterThan(2);
    expect(() => new RaftCore({ id: 'n1', electionTicks: 10, electionJitterTicks: 11 }, firstBoot(ids), new SeededRng(1))).toThrow(/electionJitterTicks/);
    expect(() => new RaftCore({ id: 'n1', electionTicks: 10, electionJitterTicks: 0 }, firstBoot(ids), new SeededRng(1))).toThrow(/electionJitterTicks/);
  });

  it('the same rng seed gives the same timeout (deterministic)', () => {
    const timeout = (seed: number): number => {
      const core = new RaftCore({ id: 'n1', electionTicks: 10 }, firstBoot(ids), new SeededRng(seed));
      let t = 0;
      while (core.status().role === 'follower') {
        core.tick();
        t++;
      }
      return t;
    };
    expect(timeout(5)).toBe(timeout(5));
  });

  it('a candidate with a majority of votes becomes leader and appends a noop entry', () => {
    const net = new Net(ids);
    const st = net.elect('n1');
    expect(st.role).toBe('leader');
    expect(net.leaders()).toEqual(['n1']);
    const n2 = net.core('n2').status();
    expect(n2.leader).toBe('n1');
    expect(n2.term).toBe(st.term);
    // The noop of the new term is committed everywhere.
    const noop = net.node('n2').applied.at(-1);
    expect(noop?.type).toBe('noop');
    expect(noop?.term).toBe(st.term);
  });

  it('a candidate without a majority does not win, and tries again in a higher term', () => {
    const net = new Net(ids, { config: { preVote: false } });
    net.isolate('n1');
    net.core('n1').campaign();
    net.stabilize();
    const t1 = net.core('n1').status();
    expect(t1.role).toBe('candidate');
    net.tick('n1', 20);
    expect(net.core('n1').status().role).toBe('candidate');
    expect(net.core('n1').status().term).toBeGreaterThan(t1.term);
  });

  it('votes at most once per term, first come first served', () => {
    const net = new Net(ids);
    const n3 = net.core('n3');
    const term = n3.status().term + 1;
    const last = n3.status().lastIndex;
    n3.step(vote('n1', 'n3', term, last, 1));
    n3.step(vote('n2', 'n3', term, last, 1));
    n3.step(vote('n1', 'n3', term, last, 1)); // a retransmission is granted again
    net.process('n3');
    const resps = net.take((m) => m.type === 'vote-resp');
    expect(resps.map((m) => [m.to, m.type === 'vote-resp' && m.reject])).toEqual([
      ['n1', false],
      ['n2', true],
      ['n1', false],
    ]);
    expect(n3.status().vote).toBe('n1');
  });

  it('§5.4.1 election restriction: no vote for a candidate whose log is less up to date', () => {
    // n3's log ends with term 3; candidates with last term 2, or term 3 but shorter, are refused.
    const net = new Net(ids, { initial: { n3: withLog(ids, [1, 2, 3, 3], { term: 3 }) }, configs: { n3: { checkQuorum: false } } });
    const n3 = net.core('n3');
    n3.step(vote('n1', 'n3', 4, 9, 2)); // older last term, longer log
    net.process('n3');
    n3.step(vote('n2', 'n3', 5, 3, 3)); // same last term, shorter log
    net.process('n3');
    n3.step(vote('n1', 'n3', 6, 4, 3)); // same last term, same length: up to date
    net.process('n3');
    const resps = net.take((m) => m.type === 'vote-resp').map((m) => m.type === 'vote-resp' && m.reject);
    expect(resps).toEqual([true, true, false]);
  });

  it('a leader that sees a higher term steps down', () => {
    const net = new Net(ids);
    net.elect('n1');
    const term = net.core('n1').status().term;
    net.core('n1').step({ type: 'heartbeat-resp', from: 'n2', to: 'n1', term: term + 5 });
    expect(net.core('n1').status()).toMatchObject({ role: 'follower', term: term + 5, leader: null });
  });

  it('a candidate that hears from a leader of its term becomes its follower', () => {
    const net = new Net(ids, { config: { preVote: false } });
    net.isolate('n2');
    net.core('n2').campaign();
    net.processAll();
    const term = net.core('n2').status().term;
    net.core('n2').step({ type: 'heartbeat', from: 'n3', to: 'n2', term, commit: 0 });
    expect(net.core('n2').status()).toMatchObject({ role: 'follower', leader: 'n3', term });
  });
});

describe('persistence of votes (DESIGN §2)', () => {
  it('vote responses leave only after the vote is durable: persistedMessages, with the vote in the same Ready', () => {
    const net = new Net(ids);
    const n3 = net.core('n3');
    const term = n3.status().term + 1;
    n3.step(vote('n1', 'n3', term, 10, 1));
    const rd = n3.ready();
    expect(rd.messages.filter((m) => m.type === 'vote-resp')).toEqual([]);
    expect(rd.persistedMessages).toEqual([{ type: 'vote-resp', from: 'n3', to: 'n1', term, reject: false }]);
    expect(rd.hardState).toMatchObject({ term, vote: 'n1' });
    expect(rd.mustSync).toBe(true);
  });

  it("a candidate's own vote requests wait for its durable vote", () => {
    const core = new RaftCore({ id: 'n1', preVote: false }, firstBoot(ids), new SeededRng(1));
    core.campaign();
    const rd = core.ready();
    expect(rd.messages.filter((m) => m.type === 'vote')).toEqual([]);
    expect(rd.persistedMessages.map((m) => m.type)).toEqual(['vote', 'vote']);
    expect(rd.hardState).toMatchObject({ vote: 'n1' });
  });

  it('a single voter wins only once its vote is durable (after advance)', () => {
    const core = new RaftCore({ id: 'n1', preVote: false }, firstBoot(['n1']), new SeededRng(1));
    core.campaign();
    expect(core.status().role).toBe('candidate');
    const rd = core.ready();
    expect(core.status().role).toBe('candidate');
    core.advance(rd);
    expect(core.status().role).toBe('leader');
  });

  it('a restarted node remembers its vote (no second vote in the same term)', () => {
    const net = new Net(ids, { config: { checkQuorum: false } });
    const term = net.core('n3').status().term + 1;
    net.core('n3').step(vote('n1', 'n3', term, 10, 1));
    net.process('n3');
    net.restart('n3');
    net.take();
    net.core('n3').step(vote('n2', 'n3', term, 10, 1));
    net.process('n3');
    const resp = net.take((m) => m.type === 'vote-resp')[0];
    expect(resp).toMatchObject({ to: 'n2', reject: true });
  });

  it('a restarted node that had not persisted its vote comes back without it (unpersisted state is lost)', () => {
    const net = new Net(ids);
    net.processAll();
    const term = net.core('n3').status().term + 1;
    net.core('n3').step(vote('n1', 'n3', term, 10, 1));
    net.core('n3').ready(); // handed out, never persisted: crash
    const back = net.restart('n3');
    expect(back.core.status().vote).toBe(null);
    expect(back.core.status().term).toBe(term - 1);
  });
});

describe('who may campaign', () => {
  it('a learner never campaigns', () => {
    const net = new Net(['n1', 'n2', 'n3', 'n4'], { learners: ['n4'] });
    net.tick('n4', 100);
    expect(net.core('n4').status().role).toBe('follower');
    expect(net.sent.filter((m) => m.from === 'n4' && (m.type === 'vote' || m.type === 'pre-vote'))).toEqual([]);
  });

  it("a learner's vote does not count toward the quorum, and candidates do not ask learners", () => {
    // Voters n1, n2, n3; learner n4. n1 gets only n4's vote: not a majority of voters.
    const net = new Net(['n1', 'n2', 'n3', 'n4'], { learners: ['n4'], config: { preVote: false } });
    net.core('n1').campaign();
    net.processAll();
    const term = net.core('n1').status().term;
    expect(net.take().map((m) => m.to)).toEqual(['n2', 'n3']);
    net.core('n1').step({ type: 'vote-resp', from: 'n4', to: 'n1', term, reject: false });
    expect(net.core('n1').status().role).toBe('candidate');
    net.core('n1').step({ type: 'vote-resp', from: 'n2', to: 'n1', term, reject: false });
    expect(net.core('n1').status().role).toBe('leader');
  });

  it('a node outside the configuration never campaigns', () => {
    const core = new RaftCore({ id: 'n9' }, firstBoot(ids), new SeededRng(1));
    for (let i = 0; i < 100; i++) core.tick();
    core.campaign();
    expect(core.status().role).toBe('follower');
    expect(core.hasReady() ? core.ready().messages : []).toEqual([]);
  });
});
