/**
 * Snapshots: compaction, InstallSnapshot to a follower behind the leader's log, and the
 * reportSnapshot / reportUnreachable signals from the transport.
 */
import { describe, expect, it } from 'vitest';
import type { LatchError } from '../../src/common/index.js';
import type { Message, Snapshot } from '../../src/raft/index.js';
import { Net, data } from './harness.js';

const ids = ['n1', 'n2', 'n3'];

/** A cluster where n3 missed 10 entries that the leader then compacted away. */
function compactedCluster(): { net: Net; snap: Snapshot } {
  const net = new Net(ids);
  net.elect('n1');
  net.isolate('n3');
  for (let i = 0; i < 10; i++) net.core('n1').propose(data(`v${i}`));
  net.stabilize();
  const snap = net.compact('n1');
  net.heal();
  return { net, snap };
}

/** Delivers snapshot messages with the stored bytes attached, as the driver/transport does. */
function attach(net: Net, snap: Snapshot): void {
  net.queue = net.queue.map((m): Message => (m.type === 'snapshot' ? { ...m, meta: snap.meta, data: snap.data } : m));
}

describe('compaction', () => {
  it('drops the log up to the index and reports the snapshot metadata with the configuration there', () => {
    const { net, snap } = compactedCluster();
    const st = net.core('n1').status();
    expect(snap.meta).toEqual({ index: st.applied, term: st.term, confState: { voters: ids, learners: [] } });
    expect(st.snapshotIndex).toBe(snap.meta.index);
    expect(st.firstIndex).toBe(snap.meta.index + 1);
  });

  it('refuses indexes outside (snapshot index, applied]', () => {
    const { net } = compactedCluster();
    const st = net.core('n1').status();
    for (const bad of [st.snapshotIndex, st.applied + 1, -1, 1.5]) {
      expect(() => net.core('n1').compact(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as unknown as LatchError);
    }
  });
});

describe('InstallSnapshot', () => {
  it('a follower behind the first index gets a snapshot (meta only), installs it and catches up', () => {
    const { net, snap } = compactedCluster();
    net.run(1);
    const sent = net.sent.filter((m) => m.type === 'snapshot');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ to: 'n3', meta: snap.meta });
    expect(sent[0] && 'data' in sent[0]).toBe(false); // the driver attaches the bytes
    expect(net.core('n1').status().progress?.['n3']?.state).toBe('snapshot');
    // Deliver with bytes.
    net.queue = [];
    net.deliver({ ...(sent[0] as Extract<Message, { type: 'snapshot' }>), data: snap.data });
    const rd = net.process('n3');
    expect(rd?.snapshot).toEqual(snap);
    expect(rd?.persistedMessages).toMatchObject([{ type: 'append-resp', reject: false, index: snap.meta.index }]);
    expect(net.core('n3').status()).toMatchObject({ snapshotIndex: snap.meta.index, commit: snap.meta.index, lastIndex: snap.meta.index });
    net.core('n1').reportSnapshot('n3', true);
    net.stabilize();
    net.core('n1').propose(data('after'));
    net.stabilize();
    expect(net.core('n1').status().progress?.['n3']).toMatchObject({ state: 'replicate', match: net.core('n1').status().lastIndex });
    expect(net.appliedTexts('n3')).toEqual(['after']);
  });

  it('a snapshot message without data is dropped and counted', () => {
    const { net, snap } = compactedCluster();
    const term = net.core('n3').status().term;
    net.core('n3').step({ type: 'snapshot', from: 'n1', to: 'n3', term, meta: snap.meta });
    expect(net.core('n3').status()).toMatchObject({ snapshotIndex: 0, droppedMessages: 1 });
  });

  it('a snapshot not newer than the commit index is not installed; the follower answers with its commit', () => {
    const net = new Net(ids);
    net.elect('n1');
    net.core('n1').propose(data('x'));
    net.stabilize();
    const st = net.core('n2').status();
    net.take();
    net.core('n2').step({ type: 'snapshot', from: 'n1', to: 'n2', term: st.term, meta: { index: 2, term: 1, confState: { voters: ids, learners: [] } }, data: data('old') });
    const rd = net.process('n2');
    expect(rd?.snapshot).toBeUndefined();
    expect(rd?.persistedMessages).toMatchObject([{ type: 'append-resp', index: st.commit }]);
  });

  it('a failed snapshot send goes back to probing and is retried', () => {
    const { net, snap } = compactedCluster();
    net.drop((m) => m.type === 'snapshot');
    net.run(1);
    expect(net.core('n1').status().progress?.['n3']?.state).toBe('snapshot');
    net.core('n1').reportSnapshot('n3', false);
    expect(net.core('n1').status().progress?.['n3']?.state).toBe('probe');
    net.heal();
    net.run(2);
    attach(net, snap);
    expect(net.sent.filter((m) => m.type === 'snapshot').length).toBeGreaterThanOrEqual(2);
  });

  it('an unreachable follower in replicate state goes back to probe', () => {
    const net = new Net(ids);
    net.elect('n1');
    expect(net.core('n1').status().progress?.['n2']?.state).toBe('replicate');
    net.core('n1').reportUnreachable('n2');
    expect(net.core('n1').status().progress?.['n2']?.state).toBe('probe');
  });

  it('a node restarted from a snapshot keeps working', () => {
    const { net, snap } = compactedCluster();
    const back = net.restart('n1');
    expect(back.core.status()).toMatchObject({ snapshotIndex: snap.meta.index, applied: snap.meta.index });
    net.tick('all', 10);
    net.elect('n2');
    net.run(3);
    attach(net, snap);
    net.stabilize();
    expect(net.leaders()).toHaveLength(1);
  });
});
