/**
 * The stack simulator: the production node and lock service — RaftNode's Ready loop, the real
 * LockStateMachine behind LockFsm, LeaderDuties' session deadlines and timers, the keepalive
 * lease check — three of them on the in-memory network, all on one VirtualTime, with seeded
 * partitions, crashes (restart from what storage made durable) and simulated clients.
 *
 * Clients call the services directly (as the gRPC handlers do) on the nodes they can reach: they
 * open a session, keep it alive every ttl/4, take the one lock with a try-acquire, hold it for a
 * while and release it; some stop keeping alive without releasing (a crashed client). A client
 * counts itself a holder from the grant's answer until it sends its release or its local lease
 * (send time of the last acknowledged keepalive + TTL − margin) runs out, as the SDK does.
 *
 * Checked (lock invariants; the core's own are the raft simulator's):
 * - `exclusion`: no two sessions hold the lock at the same virtual instant, by those intervals;
 * - `tokens`: each later holding has a higher fencing token than every earlier one;
 * - `lease`: no node applies a session's expiry before the send time of the last keepalive
 *   acknowledged to its client + TTL (the acknowledged lease is never cut short).
 */
import { SeededRng } from '../../src/common/rng.js';
import { silentLogger } from '../../src/common/logger.js';
import type { MemberInfo } from '../../src/node/members.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { ApplyOutput } from '../../src/lock/index.js';
import type { ServerConfig } from '../../src/server/config.js';
import { LatchService } from '../../src/server/latch-service.js';
import { MemoryStorage } from '../../src/storage/index.js';
import { MemoryNetwork, MemoryTransport } from '../../src/transport/index.js';
import { VirtualTime } from './virtual-time.js';

/** Knobs of one stack schedule (times in virtual ms). */
export interface StackParams {
  readonly nodes: number;
  readonly clients: number;
  readonly durationMs: number;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly ttlMs: number;
  readonly lockDelayMs: number;
  /** Mean time between faults. */
  readonly faultEveryMs: number;
}

/** The defaults: the server's own timings, a 2 s TTL and lock-delay 0 (the lease alone must hold). */
export const DEFAULT_STACK_PARAMS: StackParams = {
  nodes: 3,
  clients: 4,
  durationMs: 30_000,
  heartbeatMs: 100,
  electionTimeoutMs: 1000,
  ttlMs: 2000,
  lockDelayMs: 0,
  faultEveryMs: 1500,
};

/** One invariant violation. */
export interface StackViolation {
  readonly kind: 'exclusion' | 'tokens' | 'lease' | 'internal';
  readonly at: number;
  readonly detail: string;
}

/** The outcome of one stack schedule. */
export interface StackResult {
  readonly seed: number;
  readonly violations: readonly StackViolation[];
  readonly stats: Readonly<Record<string, number>>;
  readonly trace: readonly string[];
}

const LOCK = 'sim/the-lock';

interface Member {
  readonly id: string;
  storage: MemoryStorage;
  node: RaftNode<ApplyOutput> | undefined;
  service: LatchService | undefined;
  gen: number;
  /** A start is under way (a restart timer and the final heal must not both start it). */
  starting: boolean;
}

interface Holding {
  readonly session: number;
  readonly token: number;
  readonly from: number;
  to: number | null;
}

interface SessionRecord {
  readonly id: number;
  lastAckSentAt: number;
}

function serverConfig(id: string, members: readonly MemberInfo[], p: StackParams): ServerConfig {
  const m = members.find((x) => x.id === id)!;
  return {
    id,
    dataDir: '/nonexistent',
    listenClient: m.clientAddress,
    listenPeer: m.peerAddress,
    listenHttp: '127.0.0.1:0',
    initialCluster: members,
    clusterToken: 'latch',
    heartbeatMs: p.heartbeatMs,
    electionTimeoutMs: p.electionTimeoutMs,
    snapshotThreshold: 200,
    logLevel: 'silent',
    sessionTtlMinMs: 1000,
    sessionTtlMaxMs: 60_000,
    sessionTtlDefaultMs: p.ttlMs,
    lockDelayMs: p.lockDelayMs,
    maxWaitersPerLock: 100,
    maxSessionsPerConnection: 1000,
    tls: null,
    insecure: false,
    tokenFile: null,
    join: null,
  };
}

/** Runs stack schedule `seed`. */
export async function runStackSchedule(seed: number, params: Partial<StackParams> = {}, trace = false): Promise<StackResult> {
  const p: StackParams = { ...DEFAULT_STACK_PARAMS, ...params };
  const vt = new VirtualTime();
  const rng = new SeededRng(seed * 7919 + 17);
  const net = new MemoryNetwork({ defer: (fn) => vt.defer(fn) });
  const ids = Array.from({ length: p.nodes }, (_, i) => `n${i + 1}`);
  const members: MemberInfo[] = ids.map((id, i) => ({ id, peerAddress: `10.0.0.${i + 1}:7101`, clientAddress: `10.0.0.${i + 1}:7001` }));
  const cluster = new Map<string, Member>(ids.map((id) => [id, { id, storage: new MemoryStorage(), node: undefined, service: undefined, gen: 0, starting: false }]));
  const violations: StackViolation[] = [];
  const lines: string[] = [];
  const stats: Record<string, number> = { grants: 0, releases: 0, keepalives: 0, expiries: 0, crashes: 0, partitions: 0, opens: 0 };
  const log = (line: string): void => {
    if (trace) lines.push(`${String(vt.now()).padStart(6)} ${line}`);
  };
  const fail = (kind: StackViolation['kind'], detail: string): void => {
    if (violations.length < 20) violations.push({ kind, at: vt.now(), detail });
    log(`VIOLATION ${kind}: ${detail}`);
  };
  const sessions = new Map<number, SessionRecord>();
  const firstExpiry = new Map<number, number>();
  const holdings: Holding[] = [];

  const start = async (m: Member): Promise<void> => {
    if (m.starting || m.service) return;
    m.starting = true;
    m.gen++;
    const storage = m.storage;
    const service = new LatchService(serverConfig(m.id, members, p), silentLogger, { clock: vt, timers: vt });
    const node = new RaftNode<ApplyOutput>({
      id: m.id,
      initialCluster: members,
      storage,
      transport: (clusterId, ms) =>
        new MemoryTransport(net, { nodeId: m.id, clusterId, peers: ms.filter((x) => x.id !== m.id).map((x) => ({ id: x.id, address: x.peerAddress })), snapshotSource: () => storage.readSnapshot() }),
      stateMachine: service.stateMachine,
      heartbeatMs: p.heartbeatMs,
      electionTimeoutMs: p.electionTimeoutMs,
      snapshotThreshold: 200,
      clock: vt,
      scheduler: vt,
      rng: new SeededRng(seed * 31 + m.gen * 1009 + m.id.charCodeAt(1)),
    });
    service.attach(node);
    service.onLockEvent((e) => {
      if (e.type !== 'session-expired') return;
      stats['expiries'] = (stats['expiries'] ?? 0) + 1;
      if (!firstExpiry.has(e.sessionId)) firstExpiry.set(e.sessionId, vt.now());
      const s = sessions.get(e.sessionId);
      if (s && vt.now() < s.lastAckSentAt + p.ttlMs) {
        fail('lease', `${m.id} applied the expiry of session ${e.sessionId} at ${vt.now()}, inside its acknowledged lease (last ack sent at ${s.lastAckSentAt}, TTL ${p.ttlMs})`);
      }
    });
    try {
      await vt.until(node.start());
    } finally {
      m.starting = false;
    }
    m.node = node;
    m.service = service;
    log(`${m.id} started (gen ${m.gen})`);
  };

  const crash = async (m: Member): Promise<void> => {
    const { node, service } = m;
    if (!node || !service) return;
    m.node = undefined;
    m.service = undefined;
    service.close();
    await vt.until(node.stop());
    m.storage = m.storage.crash();
    stats['crashes'] = (stats['crashes'] ?? 0) + 1;
    log(`${m.id} CRASH`);
  };

  const live = (): Member[] => [...cluster.values()].filter((m) => m.service !== undefined);

  // ---- clients ----
  const client = async (c: number): Promise<void> => {
    const margin = Math.max(50, Math.round(p.ttlMs / 20));
    for (;;) {
      if (vt.now() > p.durationMs) return;
      // Open a session on some node that answers.
      let sessionId = 0;
      let leaseEnd = 0;
      while (sessionId === 0 && vt.now() <= p.durationMs) {
        const target = live()[rng.int(Math.max(1, live().length))];
        const sentAt = vt.now();
        const r = target?.service ? await target.service.openSession({ ttlMs: p.ttlMs, client: `c${c}` }, `c${c}`).catch(() => undefined) : undefined;
        if (r) {
          sessionId = Number((r as { sessionId: string }).sessionId);
          sessions.set(sessionId, { id: sessionId, lastAckSentAt: sentAt });
          leaseEnd = sentAt + p.ttlMs - margin;
          stats['opens'] = (stats['opens'] ?? 0) + 1;
        } else await vt.sleep(50 + rng.int(200));
      }
      if (sessionId === 0) return;
      const rec = sessions.get(sessionId)!;
      let seq = 0;
      let holding: Holding | undefined;
      let releaseAt = 0;
      const dieAt = rng.next() < 0.3 ? vt.now() + rng.int(6000) : Infinity;
      let nextKeepalive = vt.now();
      let preferred = live()[rng.int(Math.max(1, live().length))]?.id;
      const endHolding = (at: number): void => {
        if (holding && holding.to === null) holding.to = at;
        holding = undefined;
      };
      while (vt.now() <= p.durationMs) {
        const now = vt.now();
        if (now >= leaseEnd) {
          // Local lease ran out: the holder stops at its lease end; the session is given up.
          endHolding(leaseEnd);
          log(`c${c} session ${sessionId} lease ran out`);
          break;
        }
        if (now >= dieAt) {
          // A crashed client: nothing more is sent; it held until its lease end at the latest.
          endHolding(leaseEnd);
          log(`c${c} dies (session ${sessionId})`);
          return;
        }
        const nodes = live();
        const pickNode = (): Member | undefined => nodes.find((m) => m.id === preferred) ?? nodes[rng.int(Math.max(1, nodes.length))];
        if (now >= nextKeepalive) {
          const target = pickNode();
          const sentAt = vt.now();
          nextKeepalive = sentAt + Math.floor(p.ttlMs / 4);
          const res = target?.service ? await target.service.keepAlive({ sessionId: String(sessionId), nonce: '1' }).catch(() => undefined) : undefined;
          if (res && !res.expired) {
            rec.lastAckSentAt = Math.max(rec.lastAckSentAt, sentAt);
            leaseEnd = Math.max(leaseEnd, sentAt + p.ttlMs - margin);
            stats['keepalives'] = (stats['keepalives'] ?? 0) + 1;
          } else {
            if (res?.expired) {
              endHolding(Math.min(vt.now(), leaseEnd));
              break;
            }
            preferred = nodes[rng.int(Math.max(1, nodes.length))]?.id;
            nextKeepalive = sentAt + 100;
          }
          continue;
        }
        if (!holding && rng.next() < 0.5) {
          const target = pickNode();
          const r = target?.service
            ? await target.service.acquire({ sessionId: String(sessionId), requestSeq: String(++seq), name: LOCK, waitMs: 0 }).catch(() => undefined)
            : undefined;
          const seqr = r as { acquired?: boolean; sequencer?: { token: string } } | undefined;
          if (seqr?.acquired && seqr.sequencer && vt.now() < leaseEnd) {
            holding = { session: sessionId, token: Number(seqr.sequencer.token), from: vt.now(), to: null };
            holdings.push(holding);
            releaseAt = vt.now() + rng.int(3000);
            stats['grants'] = (stats['grants'] ?? 0) + 1;
            log(`c${c} session ${sessionId} holds ${LOCK} token ${holding.token}`);
          }
        } else if (holding && vt.now() >= releaseAt) {
          const target = pickNode();
          endHolding(vt.now()); // it stops touching the resource before it sends the release
          const ok = target?.service
            ? await target.service.release({ sessionId: String(sessionId), requestSeq: String(++seq), name: LOCK }).then(
                () => true,
                () => false,
              )
            : false;
          if (ok) stats['releases'] = (stats['releases'] ?? 0) + 1;
        }
        await vt.sleep(20 + rng.int(80));
      }
      endHolding(Math.min(vt.now(), leaseEnd));
    }
  };

  // ---- faults ----
  const faults = async (): Promise<void> => {
    while (vt.now() < p.durationMs - 3 * p.electionTimeoutMs) {
      await vt.sleep(Math.round(p.faultEveryMs * (0.5 + rng.next())));
      const r = rng.next();
      const up = live();
      if (r < 0.35) {
        const leader = up.find((m) => m.node?.isLeader);
        const victim = (rng.next() < 0.6 ? leader : undefined) ?? up[rng.int(Math.max(1, up.length))];
        if (victim) {
          net.isolate(victim.id);
          stats['partitions'] = (stats['partitions'] ?? 0) + 1;
          log(`isolate ${victim.id}${victim === leader ? ' (leader)' : ''}`);
        }
      } else if (r < 0.55) {
        net.healAll();
        log('heal');
      } else if (r < 0.8) {
        const leader = up.find((m) => m.node?.isLeader);
        const victim = (rng.next() < 0.5 ? leader : undefined) ?? up[rng.int(Math.max(1, up.length))];
        if (victim && up.length === p.nodes) {
          await crash(victim);
          const downFor = 200 + rng.int(3000);
          void vt
            .sleep(downFor)
            .then(() => start(victim))
            .catch((err: unknown) => fail('internal', `restart of ${victim.id} failed: ${String(err)}`));
        }
      } else {
        const a = ids[rng.int(ids.length)]!;
        const b = ids.filter((x) => x !== a)[rng.int(ids.length - 1)]!;
        net.cut(a, b, rng.next() < 0.5);
        stats['partitions'] = (stats['partitions'] ?? 0) + 1;
        log(`cut ${a} - ${b}`);
      }
    }
    net.healAll();
    for (const m of cluster.values()) if (!m.service) await start(m);
    log('final heal');
  };

  try {
    for (const m of cluster.values()) await start(m);
    const work = [faults(), ...Array.from({ length: p.clients }, (_, c) => client(c))];
    let finished = false;
    void Promise.all(work).then(
      () => (finished = true),
      (err: unknown) => {
        finished = true;
        fail('internal', `a simulated process threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      },
    );
    while (!finished && vt.now() < p.durationMs + 30_000) await vt.runUntil(vt.now() + 100);
    if (!finished) fail('internal', 'the clients did not finish');
  } finally {
    for (const m of cluster.values()) {
      m.service?.close();
      if (m.node) await vt.until(m.node.stop()).catch(() => undefined);
    }
  }

  // ---- checks ----
  const sorted = [...holdings].sort((a, b) => a.from - b.from || a.token - b.token);
  for (let i = 0; i < sorted.length; i++) {
    const h = sorted[i]!;
    const hEnd = h.to ?? Infinity;
    for (let j = i + 1; j < sorted.length; j++) {
      const k = sorted[j]!;
      if (k.from >= hEnd) break;
      if (k.session !== h.session) fail('exclusion', `sessions ${h.session} (token ${h.token}, ${h.from}–${String(h.to)}) and ${k.session} (token ${k.token}, from ${k.from}) held ${LOCK} at once`);
    }
  }
  let top: Holding | undefined;
  for (const h of sorted) {
    if (top && h.session !== top.session && h.token <= top.token) fail('tokens', `token ${h.token} (session ${h.session}, from ${h.from}) after token ${top.token} (session ${top.session})`);
    if (!top || h.token > top.token) top = h;
  }
  stats['steps'] = vt.steps;
  stats['sessionsExpired'] = firstExpiry.size;
  return { seed, violations, stats, trace: lines };
}
