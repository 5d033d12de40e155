import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../../src/common/rng.js';
import { LinkFaultTable, blackhole, delayed, describeFault, flowOf } from '../harness/link-faults.js';
import { agreedLeader, claimedLeader, parseNodeStatus } from '../harness/node-status.js';
import { bridgeOf, describePartition, isolate, lostLinks, majorityMinority, oneWay } from '../harness/partitions.js';

const N3 = ['n1', 'n2', 'n3'];
const N5 = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('partitions', () => {
  it('isolating a node loses exactly its links, both ways', () => {
    expect(lostLinks(N3, isolate(N3, 'n2'))).toEqual([
      ['n1', 'n2'],
      ['n2', 'n1'],
      ['n2', 'n3'],
      ['n3', 'n2'],
    ]);
  });

  it('majority/minority puts at most a minority on the small side, and can force a node into it', () => {
    for (let seed = 0; seed < 20; seed++) {
      const p = majorityMinority(N5, new SeededRng(seed), 'n4');
      if (p.type !== 'split') throw new Error('expected a split');
      expect(p.groups[0]).toContain('n4');
      expect(p.groups[0]!.length).toBe(2);
      expect(p.groups[1]!.length).toBe(3);
      expect(lostLinks(N5, p)).toHaveLength(2 * 2 * 3);
    }
  });

  it('a bridge keeps the bridge node connected to both sides only', () => {
    const p = bridgeOf(N5, new SeededRng(4), 'n3');
    const lost = lostLinks(N5, p);
    expect(lost.some(([a, b]) => a === 'n3' || b === 'n3')).toBe(false);
    if (p.type !== 'bridge') throw new Error('expected a bridge');
    for (const a of p.left) for (const b of p.right) expect(lost).toContainEqual([a, b]);
    expect(lost).toHaveLength(2 * p.left.length * p.right.length);
    expect(describePartition(p)).toContain('<- n3 ->');
  });

  it('one-way loss drops one direction only', () => {
    expect(lostLinks(N3, oneWay(N3, 'n1', 'out'))).toEqual([
      ['n1', 'n2'],
      ['n1', 'n3'],
    ]);
    expect(lostLinks(N3, oneWay(N3, 'n1', 'in'))).toEqual([
      ['n2', 'n1'],
      ['n3', 'n1'],
    ]);
  });

  it('rejects unknown nodes and too-small clusters', () => {
    expect(() => isolate(N3, 'n9')).toThrow(RangeError);
    expect(() => bridgeOf(['a', 'b'], new SeededRng(1))).toThrow(RangeError);
    expect(() => majorityMinority(['a'], new SeededRng(1))).toThrow(RangeError);
  });
});

describe('LinkFaultTable', () => {
  it('starts healthy, sets and heals links, and notifies once per change', () => {
    const t = new LinkFaultTable(N3);
    let changes = 0;
    const off = t.onChange(() => changes++);
    expect(t.get('n1', 'n2').type).toBe('healthy');
    t.set([
      ['n1', 'n2', { type: 'cut' }],
      ['n2', 'n1', blackhole('forward')],
    ]);
    expect(changes).toBe(1);
    expect(t.get('n1', 'n2').type).toBe('cut');
    expect(t.get('n2', 'n3').type).toBe('healthy');
    expect(t.faulty()).toHaveLength(2);
    t.healAll();
    expect(changes).toBe(2);
    expect(t.faulty()).toEqual([]);
    t.healAll();
    expect(changes).toBe(2);
    off();
    t.set([['n1', 'n3', { type: 'cut' }]]);
    expect(changes).toBe(2);
  });

  it('rejects unknown or self links', () => {
    const t = new LinkFaultTable(N3);
    expect(() => t.set([['n1', 'n9', { type: 'cut' }]])).toThrow(RangeError);
    expect(() => t.set([['n1', 'n1', { type: 'cut' }]])).toThrow(RangeError);
    expect(() => new LinkFaultTable(['a', 'a'])).toThrow(RangeError);
  });

  it('describes flows per direction', () => {
    expect(flowOf(blackhole('forward'), 'forward').type).toBe('drop');
    expect(flowOf(blackhole('forward'), 'backward')).toEqual({ type: 'pass', delayMs: 0 });
    expect(flowOf({ type: 'cut' }, 'backward').type).toBe('drop');
    expect(describeFault(delayed(40, 'backward'))).toBe('fwd pass, back +40ms');
    expect(() => delayed(-1)).toThrow(RangeError);
  });
});

describe('node status and leader discovery', () => {
  const st = (id: string, role: string, term: number, leader: string | null) => ({ id, role, term, leader, commitIndex: 1, appliedIndex: 1 });

  it('parses /status bodies and rejects malformed ones', () => {
    expect(parseNodeStatus({ id: 'n1', role: 'leader', term: 3, leader: 'n1', commitIndex: 5, appliedIndex: 4, extra: 1 })).toEqual({ id: 'n1', role: 'leader', term: 3, leader: 'n1', commitIndex: 5, appliedIndex: 4 });
    expect(parseNodeStatus({ id: 'n1', role: 'follower', term: 'x' })).toBeUndefined();
    expect(parseNodeStatus({ id: 1, role: 'follower', term: 1 })).toBeUndefined();
    expect(parseNodeStatus(null)).toBeUndefined();
    expect(parseNodeStatus({ id: 'n1', role: 'follower', term: 1, leader: 5 })).toBeUndefined();
  });

  it('claims go to the highest term; agreement needs a majority naming the leader', () => {
    const stale = st('n1', 'leader', 2, 'n1');
    const fresh = st('n2', 'leader', 3, 'n2');
    expect(claimedLeader([stale, fresh, undefined])?.id).toBe('n2');
    expect(agreedLeader([stale, fresh, st('n3', 'follower', 3, 'n2')], 3)).toBe('n2');
    expect(agreedLeader([stale, fresh, st('n3', 'follower', 2, 'n1')], 3)).toBeUndefined();
    expect(agreedLeader([undefined, undefined, fresh], 3)).toBeUndefined();
    expect(agreedLeader([], 3)).toBeUndefined();
  });
});
