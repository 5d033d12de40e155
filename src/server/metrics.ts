/** Prometheus metrics of one node (prom-client, a registry per node), served at `/metrics`. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApplyOutput, LockStateMachine } from '../lock/index.js';
import type { NodeStatus } from '../node/raft-node.js';
import type { HttpRoute } from './http-server.js';

/** The node's metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly rpcs = new Counter({ name: 'latch_rpcs_total', help: 'Client RPCs by method and gRPC code', labelNames: ['method', 'code'], registers: [this.registry] });
  readonly keepalives = new Counter({ name: 'latch_keepalives_total', help: 'Keepalives acknowledged', registers: [this.registry] });
  readonly leaderChanges = new Counter({ name: 'latch_leader_changes_total', help: 'Role changes seen by this node', registers: [this.registry] });
  readonly grants = new Counter({ name: 'latch_lock_grants_total', help: 'Locks granted', registers: [this.registry] });
  readonly expiries = new Counter({ name: 'latch_sessions_expired_total', help: 'Sessions expired', registers: [this.registry] });
  private readonly term = new Gauge({ name: 'latch_raft_term', help: 'Current Raft term', registers: [this.registry] });
  private readonly isLeader = new Gauge({ name: 'latch_raft_is_leader', help: '1 when this node is the leader', registers: [this.registry] });
  private readonly commit = new Gauge({ name: 'latch_raft_commit_index', help: 'Commit index', registers: [this.registry] });
  private readonly applied = new Gauge({ name: 'latch_raft_applied_index', help: 'Applied index', registers: [this.registry] });
  private readonly sessions = new Gauge({ name: 'latch_sessions_open', help: 'Open sessions', registers: [this.registry] });
  private readonly locksHeld = new Gauge({ name: 'latch_locks_held', help: 'Locks with at least one holder', registers: [this.registry] });
  private readonly waitersGauge = new Gauge({ name: 'latch_lock_waiters', help: 'Queued waiters over all locks', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Records a role change. */
  onRole(role: string, term: number): void {
    this.leaderChanges.inc();
    this.isLeader.set(role === 'leader' ? 1 : 0);
    this.term.set(term);
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
      this.isLeader.set(st.role === 'leader' ? 1 : 0);
      this.commit.set(st.commit);
      this.applied.set(st.applied);
      const m = sm();
      const locks = m.listLocks('');
      this.sessions.set(m.listSessions().length);
      this.locksHeld.set(locks.filter((l) => l.holders.length > 0).length);
      this.waitersGauge.set(locks.reduce((n, l) => n + l.waiters.length, 0));
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(await this.registry.metrics());
      return true;
    };
  }
}
