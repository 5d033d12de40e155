import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/common/ids.js';
import type { Message, Snapshot, SnapshotMeta } from '../../src/raft/types.js';
import { MemoryNetwork } from '../../src/transport/memory-network.js';
import { MemoryTransport } from '../../src/transport/memory-transport.js';
import type { SnapshotSource } from '../../src/transport/types.js';
import { commits, everyType, numbered, Recorder } from './helpers.js';

interface Member {
  readonly id: NodeId;
  readonly t: MemoryTransport;
  readonly rec: Recorder;
}

async function members(net: MemoryNetwork, ids: readonly NodeId[], opts: { clusterId?: string; snapshotSource?: SnapshotSource } = {}): Promise<Member[]> {
  const peers = ids.map((id) => ({ id, address: `mem:${ids.indexOf(id) + 1}` }));
  const out: Member[] = [];
  for (const id of ids) {
    const rec = new Recorder();
    const t = new MemoryTransport(net, { nodeId: id, peers, ...opts });
    await t.start(rec);
    out.push({ id, t, rec });
  }
  return out;
}

const meta: SnapshotMeta = { index: 30, term: 2, confState: { voters: ['n1', 'n2', 'n3'], learners: [] } };

describe('MemoryTransport', () => {
  it('delivers asynchronously, in order per link, copies through the codec', async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = await members(net, ['n1', 'n2', 'n3']);
    if (!a || !b || !c) throw new Error('members');
    const toB = [...everyType('n1', 'n2', 1), ...numbered('n1', 'n2', 0, 50)];
    const toC = numbered('n1', 'n3', 100, 20);
    a.t.send(toB);
    a.t.send(toC);
    c.t.send(numbered('n3', 'n2', 7, 3));
    expect(b.rec.messages).toEqual([]);
    await net.settled();
    expect(b.rec.from('n1')).toEqual(toB);
    expect(commits(b.rec.from('n3'))).toEqual([7, 8, 9]);
    expect(c.rec.messages).toEqual(toC);
    // The receiver got a copy: mutating the sent entry data does not reach it.
    const sent = toB[4];
    const got = b.rec.messages[4];
    if (sent?.type !== 'append' || got?.type !== 'append' || sent.entries[0]?.type !== 'normal' || got.entries[0]?.type !== 'normal') throw new Error('append expected');
    sent.entries[0].data[0] = 255 - (got.entries[0].data[0] ?? 0);
    expect(got.entries[0].data[0]).not.toBe(sent.entries[0].data[0]);
    expect(net.stats()).toEqual({ delivered: toB.length + toC.length + 3, dropped: 0 });
  });

  it('cuts and heals links, both ways and one way, reporting lost messages', async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = await members(net, ['n1', 'n2', 'n3']);
    if (!a || !b || !c) throw new Error('members');
    net.cut('n1', 'n2');
    a.t.send(numbered('n1', 'n2', 0, 2));
    b.t.send(numbered('n2', 'n1', 0, 1));
    a.t.send(numbered('n1', 'n3', 0, 1));
    await net.settled();
    expect(b.rec.messages).toEqual([]);
    expect(a.rec.messages).toEqual([]);
    expect(commits(c.rec.messages)).toEqual([0]);
    expect(a.rec.unreachable).toContain('n2');
    expect(b.rec.unreachable).toContain('n1');
    net.heal('n1', 'n2');
    a.t.send(numbered('n1', 'n2', 5, 1));
    await net.settled();
    expect(commits(b.rec.messages)).toEqual([5]);

    net.cut('n2', 'n3', true);
    b.t.send(numbered('n2', 'n3', 1, 1));
    c.t.send(numbered('n3', 'n2', 1, 1));
    await net.settled();
    expect(c.rec.from('n2')).toEqual([]);
    expect(commits(b.rec.from('n3'))).toEqual([1]);
    expect(net.isLinkUp('n2', 'n3')).toBe(false);
    expect(net.isLinkUp('n3', 'n2')).toBe(true);

    net.healAll();
    net.isolate('n1');
    a.t.send([...numbered('n1', 'n2', 9, 1), ...numbered('n1', 'n3', 9, 1)]);
    b.t.send(numbered('n2', 'n3', 9, 1));
    await net.settled();
    expect(commits(c.rec.from('n1'))).toEqual([0]);
    expect(commits(c.rec.from('n2'))).toEqual([9]);

    net.healAll();
    net.partition(['n1'], ['n2', 'n3']);
    expect(net.isLinkUp('n1', 'n3')).toBe(false);
    expect(net.isLinkUp('n2', 'n3')).toBe(true);
  });

  it('a cut also loses messages already in flight on the link', async () => {
    const net = new MemoryNetwork();
    const [a, b] = await members(net, ['n1', 'n2']);
    if (!a || !b) throw new Error('members');
    a.t.send(numbered('n1', 'n2', 0, 3));
    net.cut('n1', 'n2');
    await net.settled();
    expect(b.rec.messages).toEqual([]);
    expect(net.stats().dropped).toBe(3);
  });

  it('drops traffic from another cluster, from unknown peers and to closed transports', async () => {
    const net = new MemoryNetwork();
    const [a] = await members(net, ['n1', 'n2']);
    if (!a) throw new Error('members');
    const strangerRec = new Recorder();
    const stranger = new MemoryTransport(net, { nodeId: 'n9', clusterId: 'other', peers: [{ id: 'n1', address: 'mem:1' }] });
    await stranger.start(strangerRec);
    stranger.send(numbered('n9', 'n1', 0, 1));
    const outsiderRec = new Recorder();
    const outsider = new MemoryTransport(net, { nodeId: 'n8', peers: [{ id: 'n1', address: 'mem:1' }] });
    await outsider.start(outsiderRec);
    outsider.send(numbered('n8', 'n1', 0, 1));
    a.t.send(numbered('n1', 'n7', 0, 1));
    await net.settled();
    expect(a.rec.messages).toEqual([]);
    expect(strangerRec.unreachable).toEqual(['n1']);
    expect(outsiderRec.unreachable).toEqual(['n1']);
    expect(a.rec.unreachable).toEqual(['n7']);
    await a.t.close();
    outsider.send(numbered('n8', 'n1', 1, 1));
    await net.settled();
    expect(a.rec.messages).toEqual([]);
    expect(outsiderRec.unreachable).toEqual(['n1', 'n1']);
    await expect(new MemoryTransport(net, { nodeId: 'n8', peers: [] }).start(new Recorder())).rejects.toThrow(/already attached/);
  });

  it('refuses malformed messages without throwing', async () => {
    const net = new MemoryNetwork();
    const [a, b] = await members(net, ['n1', 'n2']);
    if (!a || !b) throw new Error('members');
    const bad = [
      { type: 'heartbeat', from: 'n1', to: 'n2', term: -3, commit: 0 },
      { type: 'heartbeat', from: 'n2', to: 'n1', term: 1, commit: 0 },
      { type: 'bogus', from: 'n1', to: 'n2', term: 1 },
    ] as unknown as Message[];
    expect(() => a.t.send([...bad, ...numbered('n1', 'n2', 4, 1)])).not.toThrow();
    await net.settled();
    expect(commits(b.rec.messages)).toEqual([4]);
  });

  it('sends snapshots with bytes from the source and reports their status', async () => {
    const net = new MemoryNetwork();
    let stored: Snapshot | undefined = { meta, data: new Uint8Array([5, 6, 7]) };
    const [a, b, c] = await members(net, ['n1', 'n2', 'n3'], { snapshotSource: () => Promise.resolve(stored) });
    if (!a || !b || !c) throw new Error('members');
    const snap = (to: NodeId): Message => ({ type: 'snapshot', from: 'n1', to, term: 3, meta });
    a.t.send([snap('n2')]);
    await net.settled();
    expect(b.rec.messages).toEqual([{ type: 'snapshot', from: 'n1', to: 'n2', term: 3, meta, data: new Uint8Array([5, 6, 7]) }]);
    expect(a.rec.snapshotStatus).toEqual([{ peer: 'n2', ok: true }]);
    net.cut('n1', 'n3');
    a.t.send([snap('n3')]);
    await net.settled();
    expect(c.rec.messages).toEqual([]);
    expect(a.rec.snapshotStatus.at(-1)).toEqual({ peer: 'n3', ok: false });
    stored = undefined;
    a.t.send([snap('n2')]);
    await net.settled();
    expect(a.rec.snapshotStatus.at(-1)).toEqual({ peer: 'n2', ok: false });
    a.t.send([{ ...snap('n2'), data: new Uint8Array([1]) } as Message]);
    await net.settled();
    expect(a.rec.snapshotStatus.at(-1)).toEqual({ peer: 'n2', ok: true });
    expect(b.rec.messages).toHaveLength(2);
  });

  it('follows setPeers', async () => {
    const net = new MemoryNetwork();
    const [a, b] = await members(net, ['n1', 'n2']);
    if (!a || !b) throw new Error('members');
    b.t.setPeers([{ id: 'n2', address: 'mem:2' }]);
    a.t.send(numbered('n1', 'n2', 0, 1));
    await net.settled();
    expect(b.rec.messages).toEqual([]);
    b.t.setPeers([{ id: 'n1', address: 'mem:1' }]);
    a.t.send(numbered('n1', 'n2', 1, 1));
    await net.settled();
    expect(commits(b.rec.messages)).toEqual([1]);
  });
});
