import { afterEach, describe, expect, it } from 'vitest';
import type { Message, Snapshot, SnapshotMeta } from '../../src/raft/types.js';
import { Fixture } from './grpc-fixture.js';
import { digest, freePorts, numbered, pseudoRandomBytes } from './helpers.js';

const fx = new Fixture();
afterEach(() => fx.closeAll());

const MiB = 1024 * 1024;
const meta: SnapshotMeta = { index: 900, term: 4, confState: { voters: ['n1', 'n2'], learners: [] } };

function snapshotMsg(to: string, m: SnapshotMeta = meta): Message {
  return { type: 'snapshot', from: 'n1', to, term: 5, meta: m };
}

describe('GrpcTransport snapshots', () => {
  it('streams a multi-MiB snapshot in chunks from the snapshot source; it arrives intact with data', async () => {
    const data = pseudoRandomBytes(5 * MiB + 12345, 99);
    let fetched = 0;
    const source = (): Promise<Snapshot> => {
      fetched++;
      return Promise.resolve({ meta, data });
    };
    const [a, b] = await fx.mesh(['n1', 'n2'], { snapshotSource: source, limits: { snapshotChunkBytes: MiB } });
    if (!a || !b) throw new Error('mesh');
    a.transport.send([snapshotMsg('n2'), ...numbered('n1', 'n2', 1, 3)]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 1, 'snapshot status');
    expect(a.rec.snapshotStatus).toEqual([{ peer: 'n2', ok: true }]);
    await b.rec.until(() => b.rec.messages.length === 4, 'snapshot and heartbeats');
    const got = b.rec.messages.find((m) => m.type === 'snapshot');
    expect(got?.type === 'snapshot' && got.data?.length).toBe(data.length);
    expect(digest(got)).toEqual(digest({ type: 'snapshot', from: 'n1', to: 'n2', term: 5, meta, data }));
    expect(fetched).toBe(1);
    expect(b.transport.stats().inbound.snapshotChunksReceived).toBe(6);
    expect(b.transport.stats().inbound.snapshotsReceived).toBe(1);
    expect(a.transport.peerStats('n2')?.snapshotsSent).toBe(1);
  });

  it('sends bytes attached by the driver without asking the source, including an empty snapshot', async () => {
    let fetched = 0;
    const [a, b] = await fx.mesh(['n1', 'n2'], {
      snapshotSource: () => {
        fetched++;
        return Promise.resolve(undefined);
      },
    });
    if (!a || !b) throw new Error('mesh');
    a.transport.send([{ ...snapshotMsg('n2'), data: new Uint8Array([1, 2, 3]) } as Message]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 1, 'first');
    a.transport.send([{ ...snapshotMsg('n2'), data: new Uint8Array(0) } as Message]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 2, 'second');
    expect(a.rec.snapshotStatus).toEqual([
      { peer: 'n2', ok: true },
      { peer: 'n2', ok: true },
    ]);
    await b.rec.until(() => b.rec.messages.length === 2, 'both delivered');
    expect(b.rec.messages.map((m) => (m.type === 'snapshot' ? Array.from(m.data ?? [99]) : null))).toEqual([[1, 2, 3], []]);
    expect(fetched).toBe(0);
  });

  it('sends a newer stored snapshot with its own meta, and fails when the source has none or an older one', async () => {
    const newer: SnapshotMeta = { ...meta, index: 950 };
    let stored: Snapshot | undefined = { meta: newer, data: new Uint8Array([7]) };
    const [a, b] = await fx.mesh(['n1', 'n2'], { snapshotSource: () => Promise.resolve(stored) });
    if (!a || !b) throw new Error('mesh');
    a.transport.send([snapshotMsg('n2')]);
    await b.rec.until(() => b.rec.messages.length === 1, 'newer delivered');
    const m = b.rec.messages[0];
    expect(m?.type === 'snapshot' && m.meta.index).toBe(950);
    stored = { meta: { ...meta, index: 10 }, data: new Uint8Array([1]) };
    a.transport.send([snapshotMsg('n2')]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 2, 'older refused');
    stored = undefined;
    a.transport.send([snapshotMsg('n2')]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 3, 'missing refused');
    expect(a.rec.snapshotStatus.map((s) => s.ok)).toEqual([true, false, false]);
    expect(b.rec.messages).toHaveLength(1);
  });

  it('runs snapshots to one peer one at a time and reports each request exactly once', async () => {
    const [a, b] = await fx.mesh(['n1', 'n2'], { snapshotSource: () => Promise.resolve({ meta, data: pseudoRandomBytes(2 * MiB, 3) }) });
    if (!a || !b) throw new Error('mesh');
    a.transport.send([snapshotMsg('n2')]);
    a.transport.send([snapshotMsg('n2')]);
    a.transport.send([snapshotMsg('n2')]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 3, 'three statuses');
    // The second waited and was superseded by the third; the first and third were sent.
    expect(a.rec.snapshotStatus.map((s) => s.ok)).toEqual([false, true, true]);
    await b.rec.until(() => b.rec.messages.length === 2, 'two delivered');
    expect(a.transport.peerStats('n2')?.snapshotInFlight).toBe(false);
  });

  it('reports onSnapshotStatus(false) and onUnreachable for a snapshot to a dead peer', async () => {
    const ports = await freePorts(2);
    const peers = [
      { id: 'n1', address: `127.0.0.1:${ports[0]}` },
      { id: 'n2', address: `127.0.0.1:${ports[1]}` },
    ];
    const a = await fx.node({ id: 'n1', port: ports[0] ?? 0, peers, snapshotSource: () => Promise.resolve({ meta, data: pseudoRandomBytes(3 * MiB, 1) }) });
    a.transport.send([snapshotMsg('n2')]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 1, 'failure status');
    expect(a.rec.snapshotStatus).toEqual([{ peer: 'n2', ok: false }]);
    await a.rec.until(() => a.rec.unreachable.includes('n2'), 'unreachable');
    expect(a.transport.peerStats('n2')?.snapshotsFailed).toBe(1);
    // A snapshot to an unknown peer fails at once.
    a.transport.send([snapshotMsg('n7')]);
    await a.rec.until(() => a.rec.snapshotStatus.length === 2, 'unknown peer');
    expect(a.rec.snapshotStatus[1]).toEqual({ peer: 'n7', ok: false });
  });
});
