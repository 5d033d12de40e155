/**
 * The driver with in-memory storage and transport: elections, replication through the Ready
 * ordering, restarts from durable state only, snapshots to a lagging follower, proposals batched
 * while an fsync is in flight, and linearizable read barriers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/common/codec.js';
import { SeededRng } from '../../src/common/rng.js';
import type { MemberInfo } from '../../src/node/members.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { AppliedEntry, StateMachine } from '../../src/node/state-machine.js';
import { MemoryStorage } from '../../src/storage/index.js';
import { MemoryNetwork, MemoryTransport } from '../../src/transport/index.js';

/** A tiny append-only state machine: the list of applied values. */
class ListMachine implements StateMachine<number> {
  values: string[] = [];
  apply(e: AppliedEntry): number {
    this.values.push(decode<string>(e.data));
    return this.values.length;
  }
  snapshot(): Uint8Array {
    return encode(this.values);
  }
  restore(data: Uint8Array): void {
    this.values = decode<string[]>(data);
  }
}

interface Member {
  node: RaftNode<number>;
  sm: ListMachine;
  storage: MemoryStorage;
}

const members: MemberInfo[] = ['n1', 'n2', 'n3'].map((id, i) => ({ id, peerAddress: `127.0.0.1:${9101 + i}`, clientAddress: `127.0.0.1:${9001 + i}` }));

class Harness {
  readonly net = new MemoryNetwork();
  readonly live = new Map<string, Member>();
  readonly storages = new Map<string, MemoryStorage>();
  constructor(private readonly snapshotThreshold = 10_000) {}

  async start(id: string): Promise<Member> {
    const storage = this.storages.get(id) ?? new MemoryStorage();
    this.storages.set(id, storage);
    const sm = new ListMachine();
    const node = new RaftNode<number>({
      id,
      initialCluster: members,
      storage,
      transport: (clusterId, ms) =>
        new MemoryTransport(this.net, { nodeId: id, clusterId, peers: ms.filter((m) => m.id !== id).map((m) => ({ id: m.id, address: m.peerAddress })), snapshotSource: () => storage.readSnapshot() }),
      stateMachine: sm,
      heartbeatMs: 10,
      electionTimeoutMs: 100,
      snapshotThreshold: this.snapshotThreshold,
      rng: new SeededRng(id.charCodeAt(1)),
    });
    await node.start();
    const m = { node, sm, storage };
    this.live.set(id, m);
    return m;
  }

  /** Crash: the node stops and its storage keeps only what was written. */
  async crash(id: string): Promise<void> {
    const m = this.live.get(id)!;
    this.live.delete(id);
    await m.node.stop();
    this.storages.set(id, m.storage.crash());
  }

  /** The one leader, once it has committed an entry of its term (a read barrier), so membership changes are accepted. */
  async leader(): Promise<Member> {
    for (let i = 0; i < 500; i++) {
      const leaders = [...this.live.values()].filter((m) => m.node.isLeader);
      const l = leaders.length === 1 ? leaders[0]! : undefined;
      if (l && (await l.node.readBarrier().then(() => l.node.isLeader, () => false))) return l;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no leader');
  }

  async until(pred: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      if (pred()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out: ${what}`);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live.values()].map((m) => m.node.stop()));
    this.live.clear();
  }
}

let h: Harness;
afterEach(async () => {
  await h?.stopAll();
});

describe('RaftNode', () => {
  it('elects a leader, replicates proposals in order and resolves them with apply results', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => l.node.propose(encode(`v${i}`))));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await h.until(() => [...h.live.values()].every((m) => m.sm.values.length === 50), 'all applied');
    for (const m of h.live.values()) expect(m.sm.values).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
  });

  it('refuses proposals on a follower with the leader hint', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const f = [...h.live.values()].find((m) => m !== l)!;
    await h.until(() => f.node.leader !== null, 'follower knows leader');
    await expect(f.node.propose(encode('x'))).rejects.toMatchObject({ code: 'NOT_LEADER' });
    const err = f.node.notLeaderError();
    expect(err.leaderAddress).toBe(members.find((m) => m.id === l.node.leader)!.clientAddress);
  });

  it('holds a follower whose leader went quiet until the next leader is known', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const oldLeader = l.node.leader!;
    const f = [...h.live.values()].find((m) => m !== l)!;
    await h.until(() => f.node.leader === oldLeader, 'follower knows leader');
    // A live leader: no wait at all.
    let resolved = false;
    await f.node.awaitLiveLeader(60_000).then(() => (resolved = true));
    expect(resolved).toBe(true);
    await h.crash(oldLeader);
    // Let the dead leader's silence pass two heartbeats (10 ms each); the election takes ≥ 100 ms.
    await new Promise((r) => setTimeout(r, 40));
    // The follower holds the caller until a successor is known, never answering with the dead one.
    await f.node.awaitLiveLeader(60_000);
    expect(f.node.leader).not.toBe(oldLeader);
    expect(f.node.leader).not.toBeNull();
    const next = await h.leader();
    expect(next.node.leader).not.toBe(oldLeader);
    expect(f.node.leader).toBe(next.node.leader);
  });

  it('lets awaitLiveLeader give up after its timeout when no leader can be elected', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const f = [...h.live.values()].find((m) => m !== l)!;
    const other = [...h.live.values()].find((m) => m !== l && m !== f)!;
    await h.crash(l.node.leader!);
    await h.crash(other.node.status().id);
    await f.node.awaitLiveLeader(300);
    expect(f.node.isLeader).toBe(false);
    expect(f.node.leader === null || !h.live.has(f.node.leader)).toBe(true);
  });

  it('keeps the address of a node removed and added back, also after a restart replays both changes', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const leaderId = l.node.leader!;
    const gone = ['n1', 'n2', 'n3'].find((id) => id !== leaderId)!;
    const watcher = ['n1', 'n2', 'n3'].find((id) => id !== leaderId && id !== gone)!;
    await h.crash(gone);
    await l.node.proposeConfChange({ type: 'remove', node: gone });
    const back = { ...members.find((m) => m.id === gone)!, clientAddress: '127.0.0.1:9999' };
    await l.node.proposeConfChange({ type: 'add-learner', node: gone, context: RaftNode.memberContext(back) });
    const w = h.live.get(watcher)!;
    await h.until(() => w.node.status().confState.learners.includes(gone) && w.node.appliedIndex >= l.node.appliedIndex, 'watcher applied both changes');
    expect(w.node.memberList().find((m) => m.id === gone)).toEqual(back);
    // A restart applies the removal again after noting the re-add from the stored log.
    await h.crash(watcher);
    const w2 = await h.start(watcher);
    await h.until(() => w2.node.appliedIndex >= l.node.appliedIndex, 'watcher replayed the log');
    expect(w2.node.memberList().find((m) => m.id === gone)).toEqual(back);
  });

  it('answers a leader that removes itself with success once the removal commits', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const self = l.node.leader!;
    await expect(l.node.proposeConfChange({ type: 'remove', node: self })).resolves.toBeUndefined();
    const rest = [...h.live.values()].filter((m) => m !== l);
    await h.until(() => rest.some((m) => m.node.isLeader), 'a new leader among the others');
    const next = rest.find((m) => m.node.isLeader)!;
    expect(next.node.status().confState.voters).not.toContain(self);
  });

  it('keeps every acknowledged proposal across a crash of all nodes', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const acked: string[] = [];
    await Promise.all(Array.from({ length: 30 }, (_, i) => l.node.propose(encode(`a${i}`)).then(() => acked.push(`a${i}`))));
    for (const id of ['n1', 'n2', 'n3']) await h.crash(id);
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l2 = await h.leader();
    await l2.node.propose(encode('after'));
    await h.until(() => [...h.live.values()].every((m) => m.sm.values.includes('after')), 'all applied after restart');
    for (const m of h.live.values()) for (const v of acked) expect(m.sm.values).toContain(v);
    const first = [...h.live.values()][0]!.sm.values;
    for (const m of h.live.values()) expect(m.sm.values).toEqual(first);
  });

  it('catches a lagging follower up by snapshot after compaction', async () => {
    h = new Harness(20);
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    let l = await h.leader();
    const follower = [...h.live.keys()].find((id) => h.live.get(id) !== l)!;
    await h.crash(follower);
    l = await h.leader();
    for (let i = 0; i < 100; i++) await l.node.propose(encode(`s${i}`));
    expect(l.node.status().snapshotIndex).toBeGreaterThan(20);
    const back = await h.start(follower);
    await h.until(() => back.sm.values.length === 100, 'follower caught up');
    expect(back.sm.values).toEqual(l.sm.values);
    expect(back.node.status().snapshotIndex).toBeGreaterThan(0);
  });

  it('serves a read barrier only after everything committed before it is applied', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    await l.node.propose(encode('w1'));
    for (const m of h.live.values()) {
      await m.node.readBarrier();
      expect(m.sm.values).toContain('w1');
    }
  });

  it('fails a read barrier on a minority without a quorum', async () => {
    h = new Harness();
    await Promise.all(['n1', 'n2', 'n3'].map((id) => h.start(id)));
    const l = await h.leader();
    const id = [...h.live.entries()].find(([, m]) => m === l)![0];
    h.net.isolate(id);
    await expect(l.node.readBarrier(500)).rejects.toMatchObject({ code: expect.stringMatching(/NO_QUORUM|NOT_LEADER/) });
    h.net.healAll();
  });
});
