/**
 * Admission control in the driver: with `maxPendingProposals` in flight, a new proposal (or
 * membership change) is refused at once with OVERLOADED and a retry-after hint, and nothing is
 * appended; once the backlog drains, proposals are accepted again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/common/codec.js';
import { OverloadedError } from '../../src/common/errors.js';
import { SeededRng } from '../../src/common/rng.js';
import type { MemberInfo } from '../../src/node/members.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { AppliedEntry, StateMachine } from '../../src/node/state-machine.js';
import { MemoryStorage } from '../../src/storage/index.js';
import { MemoryNetwork, MemoryTransport } from '../../src/transport/index.js';

class Counter implements StateMachine<number> {
  n = 0;
  apply(_e: AppliedEntry): number {
    return ++this.n;
  }
  snapshot(): Uint8Array {
    return encode(this.n);
  }
  restore(): void {}
}

const members: MemberInfo[] = ['n1', 'n2', 'n3'].map((id, i) => ({ id, peerAddress: `127.0.0.1:${9301 + i}`, clientAddress: `127.0.0.1:${9201 + i}` }));
const nodes: RaftNode<number>[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

describe('admission control', () => {
  it('refuses proposals beyond maxPendingProposals with OVERLOADED, appending nothing, and accepts again once drained', async () => {
    const net = new MemoryNetwork();
    for (const m of members) {
      const storage = new MemoryStorage();
      const node = new RaftNode<number>({
        id: m.id,
        initialCluster: members,
        storage,
        transport: (clusterId, ms) => new MemoryTransport(net, { nodeId: m.id, clusterId, peers: ms.filter((x) => x.id !== m.id).map((x) => ({ id: x.id, address: x.peerAddress })), snapshotSource: () => storage.readSnapshot() }),
        stateMachine: new Counter(),
        heartbeatMs: 10,
        electionTimeoutMs: 100,
        maxPendingProposals: 3,
        rng: new SeededRng(m.id.charCodeAt(1)),
      });
      await node.start();
      nodes.push(node);
    }
    let leader: RaftNode<number> | undefined;
    for (let i = 0; i < 500 && !leader; i++) {
      await new Promise((r) => setTimeout(r, 10));
      leader = nodes.find((n) => n.isLeader);
    }
    expect(leader).toBeDefined();
    await leader!.propose(new Uint8Array([1]));
    // Cut off from its followers, its proposals cannot commit: three stay in flight.
    net.isolate(leader!.status().id);
    const inFlight = [1, 2, 3].map(() => leader!.propose(new Uint8Array([2])).catch((e: unknown) => e));
    const lastBefore = leader!.status().lastIndex;
    const refused = await leader!.propose(new Uint8Array([3])).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(OverloadedError);
    expect((refused as OverloadedError).code).toBe('OVERLOADED');
    expect((refused as OverloadedError).retryAfterMs).toBeGreaterThanOrEqual(10);
    expect(leader!.status().lastIndex).toBe(lastBefore);
    // Drained (committed, or failed as the leader steps down): proposals are admitted again.
    net.healAll();
    await Promise.all(inFlight);
    let admitted = false;
    for (let i = 0; i < 500 && !admitted; i++) {
      const l = nodes.find((n) => n.isLeader);
      if (l) admitted = await l.propose(new Uint8Array([4])).then(() => true, () => false);
      if (!admitted) await new Promise((r) => setTimeout(r, 10));
    }
    expect(admitted).toBe(true);
  });
});
