/** Prometheus metrics of one node (prom-client, a registry per node), served at `/metrics`. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApplyOutput, LockStateMachine } from '../lock/index.js';
import type { NodeStatus } from '../node/raft-node.js';
import type { Role } from '../raft/index.js';
import type { RaftStorage } from '../storage/types.js';
import type { HttpRoute } from './http-server.js';

const ROLES: readonly Role[] = ['follower', 'pre-candidate', 'candidate', 'leader'];
/** Latency buckets in seconds, 0.5 ms to 5 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The node's metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly rpcs = new Counter({ name: 'latch_rpcs_total', help: 'Client RPCs by method and gRPC code', labelNames: ['method', 'code'], registers: [this.registry] });
  readonly keepalives = new Counter({ name: 'latch_keepalives_total', help: 'Keepalives acknowledged', registers: [this.registry] });
  readonly keepAliveStreams = new Gauge({ name: 'latch_keepalive_streams', help: 'Open keepalive streams by RPC (the SDK keeps one KeepAliveBatch per connection)', labelNames: ['rpc'], registers: [this.registry] });
  readonly leaderChanges = new Counter({ name: 'latch_leader_changes_total', help: 'Changes of the known leader seen by this node', registers: [this.registry] });
  readonly proposalSeconds = new Histogram({ name: 'latch_proposal_duration_seconds', help: 'Proposal to apply on the leader, by outcome', labelNames: ['outcome'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly fsyncSeconds = new Histogram({ name: 'latch_fsync_duration_seconds', help: 'Durable (fsynced) storage writes', labelNames: ['op'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly appendBatch = new Histogram({ name: 'latch_append_batch_entries', help: 'Entries persisted per storage write', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registers: [this.registry] });
  readonly snapshots = new Counter({ name: 'latch_snapshots_total', help: 'Snapshots stored: taken locally or received from the leader', labelNames: ['kind'], registers: [this.registry] });
  readonly snapshotBytes = new Gauge({ name: 'latch_snapshot_bytes', help: 'Size of the latest stored snapshot', registers: [this.registry] });
  readonly grants = new Counter({ name: 'latch_lock_grants_total', help: 'Locks granted', registers: [this.registry] });
  readonly expiries = new Counter({ name: 'latch_sessions_expired_total', help: 'Sessions expired', registers: [this.registry] });
  private readonly term = new Gauge({ name: 'latch_raft_term', help: 'Current Raft term', registers: [this.registry] });
  private readonly isLeader = new Gauge({ name: 'latch_raft_is_leader', help: '1 when this node is the leader', registers: [this.registry] });
  private readonly commit = new Gauge({ name: 'latch_raft_commit_index', help: 'Commit index', registers: [this.registry] });
  private readonly applied = new Gauge({ name: 'latch_raft_applied_index', help: 'Applied index', registers: [this.registry] });
  private readonly sessions = new Gauge({ name: 'latch_sessions_open', help: 'Open sessions', registers: [this.registry] });
  private readonly locksHeld = new Gauge({ name: 'latch_locks_held', help: 'Locks with at least one holder', registers: [this.registry] });
  private readonly waitersGauge = new Gauge({ name: 'latch_lock_waiters', help: 'Queued waiters over all locks', registers: [this.registry] });
  private readonly delays = new Gauge({ name: 'latch_lock_delay_entries', help: 'Locks in lock-delay after an expiry', registers: [this.registry] });
  private readonly role = new Gauge({ name: 'latch_raft_role', help: '1 for the role this node is in', labelNames: ['role'], registers: [this.registry] });
  private knownLeader: string | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.setRole('follower');
  }

  /** Records a role change (and counts a change of the known leader). */
  onRole(role: Role, term: number, leader: string | null = null): void {
    if (leader !== null && leader !== this.knownLeader) this.leaderChanges.inc();
    if (leader !== null) this.knownLeader = leader;
    this.setRole(role);
    this.term.set(term);
  }

  private setRole(role: Role): void {
    this.isLeader.set(role === 'leader' ? 1 : 0);
    for (const r of ROLES) this.role.set({ role: r }, r === role ? 1 : 0);
  }

  /** Times a proposal (leader side) from propose to apply. */
  async timeProposal<T>(fn: () => Promise<T>): Promise<T> {
    const end = this.proposalSeconds.startTimer();
    try {
      const r = await fn();
      end({ outcome: 'applied' });
      return r;
    } catch (err) {
      end({ outcome: 'failed' });
      throw err;
    }
  }

  /** Wraps storage so fsync latency, append batch sizes and snapshots are measured; behaviour is unchanged. */
  instrumentStorage(storage: RaftStorage): RaftStorage {
    const timed = async (op: string, sync: boolean, fn: () => Promise<void>): Promise<void> => {
      const end = sync ? this.fsyncSeconds.startTimer({ op }) : undefined;
      await fn();
      end?.();
    };
    return {
      load: () => storage.load(),
      setIdentity: (identity) => timed('identity', true, () => storage.setIdentity(identity)),
      save: async (write, sync) => {
        if (write.entries.length > 0) this.appendBatch.observe(write.entries.length);
        await timed('save', sync, () => storage.save(write, sync));
        if (write.snapshot) {
          this.snapshots.inc({ kind: 'received' });
          this.snapshotBytes.set(write.snapshot.data.byteLength);
        }
      },
      compact: async (snapshot) => {
        await timed('compact', true, () => storage.compact(snapshot));
        this.snapshots.inc({ kind: 'taken' });
        this.snapshotBytes.set(snapshot.data.byteLength);
      },
      readSnapshot: () => storage.readSnapshot(),
      close: () => storage.close(),
    };
  }

  /** Counts grants and expiries from an apply's events. */
  onApply(out: ApplyOutput): void {
    for (const e of out.events) {
      if (e.type === 'acquired') this.grants.inc();
      else if (e.type === 'session-expired') this.expiries.inc();
    }
  }

  /** The `/metrics` route; gauges are sampled at scrape time. */
  route(status: () => NodeStatus, sm: () => LockStateMachine): HttpRoute {
    return async (req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/metrics') return false;
      const st = status();
      this.term.set(st.term);
      this.setRole(st.role);
      this.commit.set(st.commit);
      this.applied.set(st.applied);
      const m = sm();
      const locks = m.listLocks('');
      this.sessions.set(m.listSessions().length);
      this.locksHeld.set(locks.filter((l) => l.holders.length > 0).length);
      this.waitersGauge.set(locks.reduce((n, l) => n + l.waiters.length, 0));
      this.delays.set(locks.filter((l) => l.inDelay).length);
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(await this.registry.metrics());
      return true;
    };
  }
}
