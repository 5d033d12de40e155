/**
 * RaftCore's contract: input validation (bad messages are dropped and counted, never thrown),
 * typed errors for bad config / initial state / API misuse, the Ready/advance protocol, and the
 * planted testing faults.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, SeededRng, type LatchError } from '../../src/common/index.js';
import { RaftCore, type Message } from '../../src/raft/index.js';
import { Net, data, firstBoot, withLog } from './harness.js';

const ids = ['n1', 'n2', 'n3'];
const code = (c: string) => expect.objectContaining({ code: c }) as unknown as LatchError;

function follower(): RaftCore {
  const core = new RaftCore({ id: 'n2' }, withLog(ids, [1, 1, 2], { term: 2, commit: 3 }), new SeededRng(1));
  core.advance(core.ready());
  return core;
}

describe('step() input validation', () => {
  const valid: Message = { type: 'append', from: 'n1', to: 'n2', term: 3, prevIndex: 3, prevTerm: 2, entries: [], commit: 3 };

  it('drops and counts malformed messages of any shape without throwing or changing state', () => {
    const core = follower();
    const before = core.status();
    let n = 0;
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        core.step(junk as Message);
        n++;
      }),
      { numRuns: 300, seed: 1 },
    );
    const after = core.status();
    expect(after.droppedMessages).toBe(n);
    expect({ ...after, droppedMessages: 0 }).toEqual({ ...before, droppedMessages: 0 });
    expect(core.hasReady()).toBe(false);
  });

  it('drops messages with a broken field (fast-check mutations of a valid append)', () => {
    const core = follower();
    const fields = ['type', 'from', 'to', 'term', 'prevIndex', 'prevTerm', 'entries', 'commit'] as const;
    const badValues = fc.oneof(fc.constant(-1), fc.constant(1.5), fc.constant(2 ** 53), fc.constant(null), fc.constant('x y'), fc.constant({}), fc.constant(Number.NaN));
    fc.assert(
      fc.property(fc.constantFrom(...fields), badValues, (field, value) => {
        const before = core.status().droppedMessages ?? 0;
        core.step({ ...valid, [field]: value } as unknown as Message);
        expect(core.status().droppedMessages).toBe(before + 1);
      }),
      { numRuns: 200, seed: 2 },
    );
    expect(core.status().term).toBe(2);
  });

  it('drops entry runs that are not contiguous, go down in term, or are newer than the message', () => {
    const core = follower();
    const e = (index: number, term: number) => ({ type: 'normal' as const, index, term, data: data('x') });
    core.step({ ...valid, entries: [e(4, 3), e(6, 3)] });
    core.step({ ...valid, entries: [e(4, 3), e(5, 2)] });
    core.step({ ...valid, entries: [e(4, 9)] });
    core.step({ ...valid, entries: [{ type: 'conf', index: 4, term: 3, change: { type: 'explode', node: 'n1' } }] } as unknown as Message);
    expect(core.status()).toMatchObject({ droppedMessages: 4, lastIndex: 3, term: 2 });
    core.step({ ...valid, entries: [e(4, 3), e(5, 3)] });
    expect(core.status()).toMatchObject({ droppedMessages: 4, lastIndex: 5, term: 3 });
  });

  it('drops messages addressed to another node or from itself', () => {
    const core = follower();
    core.step({ ...valid, to: 'n3' });
    core.step({ ...valid, from: 'n2' });
    expect(core.status()).toMatchObject({ droppedMessages: 2, term: 2 });
  });

  it('accepts null for optional fields (as msgpack may decode them)', () => {
    const core = follower();
    core.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 2, commit: 3, context: null } as unknown as Message);
    expect(core.status().droppedMessages).toBe(0);
    expect(core.ready().messages).toEqual([{ type: 'heartbeat-resp', from: 'n2', to: 'n1', term: 2 }]);
  });
});

describe('typed errors', () => {
  it('bad config fields throw ConfigError naming the field', () => {
    const init = firstBoot(ids);
    const cases: [Record<string, unknown>, string][] = [
      [{ id: 'bad id' }, 'id'],
      [{ id: 'n1', electionTicks: 1 }, 'electionTicks'],
      [{ id: 'n1', electionTicks: 5, heartbeatTicks: 5 }, 'heartbeatTicks'],
      [{ id: 'n1', leaseDriftTicks: 10 }, 'leaseDriftTicks'],
      [{ id: 'n1', readOnly: 'fast' }, 'readOnly'],
      [{ id: 'n1', maxInflightMsgs: 0 }, 'maxInflightMsgs'],
      [{ id: 'n1', preVote: 'yes' }, 'preVote'],
    ];
    for (const [cfg, field] of cases) {
      expect(() => new RaftCore(cfg as never, init, new SeededRng(1))).toThrow(ConfigError);
      try {
        new RaftCore(cfg as never, init, new SeededRng(1));
      } catch (e) {
        expect((e as ConfigError).field).toBe(field);
      }
    }
  });

  it('an inconsistent initial state throws INVALID_ARGUMENT', () => {
    const ok = withLog(ids, [1, 2], { term: 2, commit: 2 });
    const bad = [
      { ...ok, hardState: { ...ok.hardState, commit: 5 } },
      { ...ok, hardState: { ...ok.hardState, term: 1 } },
      { ...ok, hardState: { ...ok.hardState, vote: 'no way' } },
      { ...ok, entries: [ok.entries[1]] },
      { ...ok, applied: 9 },
      { ...ok, snapshot: { index: 1, term: 1, confState: { voters: ['x', 'x'], learners: [] } } },
    ];
    for (const init of bad) expect(() => new RaftCore({ id: 'n1' }, init as never, new SeededRng(1))).toThrow(code('INVALID_ARGUMENT'));
  });

  it('API misuse throws INVALID_ARGUMENT', () => {
    const net = new Net(ids);
    net.elect('n1');
    const core = net.core('n1');
    expect(() => core.propose('text' as never)).toThrow(code('INVALID_ARGUMENT'));
    expect(() => core.readIndex(5 as never)).toThrow(code('INVALID_ARGUMENT'));
  });
});

describe('Ready / advance protocol', () => {
  it('one Ready at a time: hasReady is false until advance, a second ready() or a foreign advance() throws', () => {
    const core = new RaftCore({ id: 'n1' }, firstBoot(ids), new SeededRng(1));
    expect(core.hasReady()).toBe(true);
    const rd = core.ready();
    core.campaign(); // work keeps accumulating meanwhile
    expect(core.hasReady()).toBe(false);
    expect(() => core.ready()).toThrow(code('INVALID_ARGUMENT'));
    expect(() => core.advance({ ...rd })).toThrow(code('INVALID_ARGUMENT'));
    core.advance(rd);
    expect(core.hasReady()).toBe(true);
    expect(core.ready().softState).toEqual({ leader: null, role: 'pre-candidate' });
  });

  it('messages stepped between ready() and advance() land in the next Ready', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.core('n1').propose(data('x'));
    net.process('n1');
    const appendsToN2 = net.take((m) => m.to === 'n2');
    const n2 = net.core('n2');
    const { term, commit } = n2.status();
    n2.step({ type: 'heartbeat', from: 'n1', to: 'n2', term, commit });
    const rd1 = n2.ready();
    expect(rd1.messages.map((m) => m.type)).toEqual(['heartbeat-resp']);
    for (const m of appendsToN2) n2.step(m);
    n2.advance(rd1);
    const rd2 = n2.ready();
    expect(rd2.entries.map((e) => e.type)).toEqual(['normal']);
    expect(rd2.persistedMessages.map((m) => m.type)).toEqual(['append-resp']);
  });

  it('mustSync only when term, vote, entries or snapshot change (not for a commit advance alone)', () => {
    const core = follower();
    core.step({ type: 'append', from: 'n1', to: 'n2', term: 2, prevIndex: 3, prevTerm: 2, entries: [{ type: 'normal', term: 2, index: 4, data: data('x') }], commit: 3 });
    const rd = core.ready();
    expect(rd.mustSync).toBe(true);
    core.advance(rd);
    core.step({ type: 'heartbeat', from: 'n1', to: 'n2', term: 2, commit: 4 });
    const rd2 = core.ready();
    expect(rd2.hardState).toEqual({ term: 2, vote: null, commit: 4 });
    expect(rd2.mustSync).toBe(false);
  });

  it('softState is reported only when it changes', () => {
    const net = new Net(ids);
    net.elect('n1');
    const withSoft = net.node('n2').readies.filter((r) => r.softState);
    expect(withSoft.map((r) => r.softState)).toEqual([{ leader: 'n1', role: 'follower' }]);
  });
});

describe('testing faults (planted bugs, off by default)', () => {
  it('skipVotePersist sends vote responses before the vote is durable', () => {
    const core = new RaftCore({ id: 'n2', testingFaults: { skipVotePersist: true } }, firstBoot(ids), new SeededRng(1));
    core.advance(core.ready());
    core.step({ type: 'vote', from: 'n1', to: 'n2', term: 2, lastIndex: 3, lastTerm: 1 });
    const rd = core.ready();
    expect(rd.messages.map((m) => m.type)).toEqual(['vote-resp']);
    expect(rd.persistedMessages).toEqual([]);
  });

  it('doubleVote grants a second vote in the same term', () => {
    const make = (doubleVote: boolean) => {
      const core = new RaftCore({ id: 'n3', testingFaults: { doubleVote } }, firstBoot(ids), new SeededRng(1));
      core.advance(core.ready());
      core.step({ type: 'vote', from: 'n1', to: 'n3', term: 2, lastIndex: 3, lastTerm: 1 });
      core.step({ type: 'vote', from: 'n2', to: 'n3', term: 2, lastIndex: 3, lastTerm: 1 });
      return core.ready().persistedMessages.map((m) => m.type === 'vote-resp' && m.reject);
    };
    expect(make(false)).toEqual([false, true]);
    expect(make(true)).toEqual([false, false]);
  });
});
