/**
 * The lease promise under a partition, deterministically (issue 12): three real RaftNode +
 * LatchService pairs on the in-memory network, with fake timers as the one clock of every node.
 * A client keeps its session alive on the leader every 100 ms; the leader's peer links are then
 * cut while the client can still reach it. The client gives up at the first refusal (it is cut
 * off from the majority), so the majority side eventually expires the session.
 *
 * The property: the expiry is applied on the majority no earlier than the send time of the last
 * acknowledged keepalive + TTL, i.e. after every lease the client was promised (its local lease is
 * even shorter, by the drift margin). Without the leader-lease check on keepalive acks, the old
 * leader keeps acknowledging until CheckQuorum steps it down, up to two election timeouts after
 * its last quorum contact, while the others elect a new leader after 1–1.5 and start the session's
 * deadline from there.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SeededRng } from '../../src/common/rng.js';
import { silentLogger } from '../../src/common/logger.js';
import type { MemberInfo } from '../../src/node/members.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { ApplyOutput } from '../../src/lock/index.js';
import type { ServerConfig } from '../../src/server/config.js';
import { LatchService } from '../../src/server/latch-service.js';
import { MemoryStorage } from '../../src/storage/index.js';
import { MemoryNetwork, MemoryTransport } from '../../src/transport/index.js';

const HEARTBEAT = 100;
const ELECTION = 1000;
const TTL = 2000;
const KEEPALIVE_EVERY = 100;

const ids = ['n1', 'n2', 'n3'];
const members: MemberInfo[] = ids.map((id, i) => ({ id, peerAddress: `127.0.0.1:${9101 + i}`, clientAddress: `127.0.0.1:${9001 + i}` }));

function config(id: string): ServerConfig {
  return {
    id,
    dataDir: '/nonexistent',
    listenClient: members.find((m) => m.id === id)!.clientAddress,
    listenPeer: members.find((m) => m.id === id)!.peerAddress,
    listenHttp: '127.0.0.1:0',
    initialCluster: members,
    clusterToken: 'latch',
    heartbeatMs: HEARTBEAT,
    electionTimeoutMs: ELECTION,
    snapshotThreshold: 10_000,
    logLevel: 'silent',
    sessionTtlMinMs: 1000,
    sessionTtlMaxMs: 60_000,
    sessionTtlDefaultMs: TTL,
    lockDelayMs: 0,
    maxWaitersPerLock: 100,
    maxSessionsPerConnection: 100,
    tls: null,
    insecure: false,
    tokenFile: null,
    join: null,
  };
}

interface Member {
  readonly id: string;
  readonly node: RaftNode<ApplyOutput>;
  readonly service: LatchService;
}

/**
 * Starts the three nodes; `stall[id]` ms are added to that node's clock, as if its process had
 * been stopped that long while its timers did not fire.
 */
async function startCluster(net: MemoryNetwork, seed: number, stall: Record<string, number> = {}): Promise<Member[]> {
  const out: Member[] = [];
  for (const id of ids) {
    const storage = new MemoryStorage();
    const clock = { now: () => performance.now() + (stall[id] ?? 0) };
    const service = new LatchService(config(id), silentLogger, { clock });
    const node = new RaftNode<ApplyOutput>({
      id,
      initialCluster: members,
      storage,
      transport: (clusterId, ms) =>
        new MemoryTransport(net, { nodeId: id, clusterId, peers: ms.filter((m) => m.id !== id).map((m) => ({ id: m.id, address: m.peerAddress })), snapshotSource: () => storage.readSnapshot() }),
      stateMachine: service.stateMachine,
      heartbeatMs: HEARTBEAT,
      electionTimeoutMs: ELECTION,
      clock,
      rng: new SeededRng(seed * 31 + id.charCodeAt(1)),
    });
    service.attach(node);
    await node.start();
    out.push({ id, node, service });
  }
  return out;
}

/** Awaits `p` while fake time runs on, 1 ms at a time (the nodes only progress while time does). */
async function whileTimeRuns<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const settle = (): void => {
    done = true;
  };
  p.then(settle, settle);
  while (!done) await vi.advanceTimersByTimeAsync(1);
  return p;
}

interface Outcome {
  readonly lastAckSentAt: number;
  readonly acksAfterIsolation: number;
  readonly expiredAt: number | null;
  readonly refusedAt: number | null;
}

/** One scenario: steady keepalives on the leader, then its peer links cut at `isolateAt`. */
async function scenario(seed: number, isolateOffset: number): Promise<Outcome> {
  const net = new MemoryNetwork();
  const cluster = await startCluster(net, seed);
  try {
    let leader: Member | undefined;
    for (let i = 0; i < 100 && !leader; i++) {
      await vi.advanceTimersByTimeAsync(HEARTBEAT);
      leader = cluster.find((m) => m.node.isLeader);
    }
    if (!leader) throw new Error("no leader elected");
    const others = cluster.filter((m) => m !== leader);
    let expiredAt: number | null = null;
    let sessionId = 0;
    for (const m of others) {
      m.service.onLockEvent((e) => {
        if (e.type === 'session-expired' && e.sessionId === sessionId && expiredAt === null) expiredAt = performance.now();
      });
    }
    // Open on the leader (retrying while its duties start), then keep alive every 100 ms.
    let open: { sessionId: string; ttlMs: number } | undefined;
    let openSentAt = 0;
    while (!open) {
      openSentAt = performance.now();
      open = (await whileTimeRuns(leader.service.openSession({ ttlMs: TTL, client: 'lease-test' }, 'peer-1')).catch(() => undefined)) as typeof open;
      if (!open) await vi.advanceTimersByTimeAsync(HEARTBEAT);
    }
    sessionId = Number(open.sessionId);
    expect(open.ttlMs).toBe(TTL);
    let lastAckSentAt = openSentAt;
    let refusedAt: number | null = null;
    let isolatedAt = Infinity;
    let acksAfterIsolation = 0;
    let stop = false;
    const keepalives = (async () => {
      while (!stop && refusedAt === null) {
        const sentAt = performance.now();
        try {
          const res = await leader.service.keepAlive({ sessionId: open.sessionId, nonce: '1' });
          if (res.expired) refusedAt = performance.now();
          else {
            lastAckSentAt = Math.max(lastAckSentAt, sentAt);
            if (sentAt >= isolatedAt) acksAfterIsolation++;
          }
        } catch {
          refusedAt = performance.now();
        }
        await new Promise((r) => setTimeout(r, KEEPALIVE_EVERY));
      }
    })();
    await vi.advanceTimersByTimeAsync(3000 + isolateOffset);
    isolatedAt = performance.now();
    net.isolate(leader.id);
    for (let t = 0; t < 15_000 && expiredAt === null; t += HEARTBEAT) await vi.advanceTimersByTimeAsync(HEARTBEAT);
    stop = true;
    await vi.advanceTimersByTimeAsync(KEEPALIVE_EVERY * 2);
    await whileTimeRuns(keepalives);
    return { lastAckSentAt, acksAfterIsolation, expiredAt, refusedAt };
  } finally {
    for (const m of cluster) m.service.close();
    await whileTimeRuns(Promise.all(cluster.map((m) => m.node.stop())));
  }
}

describe('the lease promise when the leader is cut off from its peers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'performance', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  for (const [seed, offset] of [
    [1, 0],
    [2, 37],
    [3, 71],
    [4, 13],
  ] as const) {
    it(`never expires a session inside an acknowledged lease (seed ${seed}, isolation offset ${offset} ms)`, async () => {
      const o = await scenario(seed, offset);
      // The scenario really exercised the window: the old leader acked after the cut, then refused.
      expect(o.acksAfterIsolation).toBeGreaterThan(0);
      expect(o.refusedAt).not.toBeNull();
      expect(o.expiredAt).not.toBeNull();
      expect(o.expiredAt!).toBeGreaterThanOrEqual(o.lastAckSentAt + TTL);
    });
  }

  it('a leader whose timers stalled (a paused process) does not hold its lease when it wakes, before any timer fires', async () => {
    const net = new MemoryNetwork();
    const stall: Record<string, number> = {};
    const cluster = await startCluster(net, 9, stall);
    try {
      let leader: Member | undefined;
      for (let i = 0; i < 100 && !leader; i++) {
        await vi.advanceTimersByTimeAsync(HEARTBEAT);
        leader = cluster.find((m) => m.node.isLeader);
      }
      await vi.advanceTimersByTimeAsync(5 * HEARTBEAT);
      expect(leader!.node.hasLeaderLease()).toBe(true);
      net.isolate(leader!.id);
      // Its clock jumps by an election timeout; no timer has run since, no tick was delivered.
      stall[leader!.id] = ELECTION;
      expect(leader!.node.hasLeaderLease()).toBe(false);
      const ka = leader!.service.keepAlive({ sessionId: '1', nonce: '1' }).then(
        (r) => r,
        (e: unknown) => e,
      );
      await whileTimeRuns(ka);
      expect(await ka).toBeInstanceOf(Error);
    } finally {
      for (const m of cluster) m.service.close();
      await whileTimeRuns(Promise.all(cluster.map((m) => m.node.stop())));
    }
  });
});
