/**
 * Real `latch server` processes on 127.0.0.1 (issue 3): failover, crash of every node with
 * proposals in flight, catch-up by snapshot, and a 5-node cluster losing and regaining its quorum.
 * Proposals are OpenSession calls: each acknowledged one is a committed entry whose id is its index.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';
import { RawClient, leaderEndpoint, type CallError } from '../helpers/raw-client.js';

let cluster: TestCluster | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  try {
    for (const c of clients.splice(0)) c.close();
  } finally {
    // Always stop the servers, even if closing a client threw.
    await cluster?.stop();
    cluster = undefined;
  }
});

function client(endpoint: string): RawClient {
  const c = new RawClient(endpoint);
  clients.push(c);
  return c;
}

/** Opens a session at the current leader, retrying across leader changes; resolves with its id. */
async function propose(c: TestCluster, timeoutMs = 20_000): Promise<number> {
  return waitFor(
    async () => {
      const ep = await leaderEndpoint(c.endpoints);
      if (!ep) return undefined;
      const r = await client(ep).attempt<{ sessionId: string }>('Sessions', 'open', { ttlMs: 300_000, client: 'it' }, 3000);
      return r.ok ? Number(r.value.sessionId) : undefined;
    },
    timeoutMs,
    'a proposal to commit',
  );
}

async function sessionIds(c: TestCluster, endpoint: string): Promise<number[]> {
  const r = await client(endpoint).call<{ sessions: { sessionId: string }[] }>('Sessions', 'list', {}, 5000);
  return r.sessions.map((s) => Number(s.sessionId)).sort((a, b) => a - b);
}

describe('a cluster of real processes', () => {
  it('elects a new leader after SIGKILL of the leader, keeps committing, and the old leader catches up', async () => {
    cluster = await startTestCluster({ nodes: 3 });
    const first = await propose(cluster);
    const old = await cluster.leader();
    await cluster.kill(old, 'SIGKILL');
    const next = await cluster.leader();
    expect(next).not.toBe(old);
    const second = await propose(cluster);
    expect(second).toBeGreaterThan(first);
    await cluster.start(old);
    const target = Number((await cluster.status(next)).appliedIndex);
    await waitFor(async () => Number((await cluster!.status(old)).appliedIndex) >= target, 20_000, 'the old leader to catch up');
    const oldEp = cluster.nodes.find((n) => n.id === old)!.clientAddress;
    expect(await sessionIds(cluster, oldEp)).toEqual(expect.arrayContaining([first, second]));
  });

  it('keeps every acknowledged proposal, in the same order on every node, after SIGKILL of all nodes mid-flight', async () => {
    cluster = await startTestCluster({ nodes: 3 });
    const c = cluster;
    const ep = (await waitFor(() => leaderEndpoint(c.endpoints), 10_000, 'leader endpoint'))!;
    const acked: number[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async () => {
      const cl = client(ep);
      while (!stop) {
        const r = await cl.attempt<{ sessionId: string }>('Sessions', 'open', { ttlMs: 300_000, client: 'crash' }, 2000);
        if (r.ok) acked.push(Number(r.value.sessionId));
        else await new Promise((res) => setTimeout(res, 20));
      }
    });
    await waitFor(() => acked.length >= 40, 20_000, '40 acknowledged proposals');
    await Promise.all(c.nodes.map((n) => c.kill(n.id, 'SIGKILL')));
    stop = true;
    await Promise.all(writers);
    expect(acked.length).toBeGreaterThanOrEqual(40);
    await Promise.all(c.nodes.map((n) => c.start(n.id)));
    await c.leader();
    await propose(c);
    const views = await Promise.all(c.nodes.map((n) => waitFor(async () => {
      const ids = await sessionIds(c, n.clientAddress);
      return acked.every((id) => ids.includes(id)) ? ids : undefined;
    }, 20_000, `${n.id} to hold every acknowledged session`)));
    for (const v of views) expect(v).toEqual(views[0]);
  });

  it('catches a follower up by snapshot once the leader has compacted past it', async () => {
    cluster = await startTestCluster({ nodes: 3, snapshotThreshold: 20 });
    const leader = await cluster.leader();
    const follower = cluster.nodes.find((n) => n.id !== leader)!.id;
    await cluster.kill(follower, 'SIGKILL');
    const ids: number[] = [];
    for (let i = 0; i < 60; i++) ids.push(await propose(cluster));
    const lst = await cluster.status(leader);
    expect(Number(lst.snapshotIndex)).toBeGreaterThan(20);
    await cluster.start(follower);
    await waitFor(async () => Number((await cluster!.status(follower)).appliedIndex) >= Number(lst.appliedIndex), 20_000, 'follower caught up');
    expect(Number((await cluster.status(follower)).snapshotIndex)).toBeGreaterThan(0);
    expect(cluster.output(follower)).toContain('restored snapshot from leader');
    const fEp = cluster.nodes.find((n) => n.id === follower)!.clientAddress;
    expect(await sessionIds(cluster, fEp)).toEqual(expect.arrayContaining(ids));
  });

  it('5 nodes: works with two down, refuses writes with UNAVAILABLE with three down, recovers when they return', async () => {
    cluster = await startTestCluster({ nodes: 5 });
    const c = cluster;
    const leader = await c.leader();
    const others = c.nodes.map((n) => n.id).filter((id) => id !== leader);
    await c.kill(others[0]!, 'SIGKILL');
    await c.kill(others[1]!, 'SIGKILL');
    await propose(c);
    await c.kill(leader, 'SIGKILL');
    // Three of five down: no leader can be elected, so writes are refused as UNAVAILABLE.
    const alive = c.nodes.filter((n) => c.pid(n.id) !== undefined);
    expect(alive.length).toBe(2);
    const refused = await waitFor(async () => {
      const r = await client(alive[0]!.clientAddress).attempt('Sessions', 'open', { ttlMs: 10_000 }, 2000);
      return !r.ok && (r.error as CallError).code === 14 ? r.error : undefined;
    }, 10_000, 'an UNAVAILABLE refusal');
    expect(refused.latchCode).toMatch(/NOT_LEADER|NO_QUORUM/);
    await c.start(others[0]!);
    await c.start(others[1]!);
    await c.leader();
    expect(await propose(c)).toBeGreaterThan(0);
  });
});
