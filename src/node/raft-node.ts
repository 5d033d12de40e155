/**
 * The driver of one Raft node: a single loop that feeds ticks, peer messages, proposals and reads
 * into the pure core, persists each Ready, sends messages, applies committed entries and takes
 * snapshots. All ordering obligations of `Ready` (DESIGN.md §2) are enforced here and only here.
 */
import { createHash } from 'node:crypto';
import { decode, encode } from '../common/codec.js';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { systemScheduler, type Scheduler, type TimerHandle } from '../common/timers.js';
import { LatchError, LeadershipLostError, NotLeaderError, OverloadedError, StorageFatalError, isLatchError } from '../common/errors.js';
import type { NodeId } from '../common/ids.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Rng } from '../common/rng.js';
import { systemRng } from '../common/rng.js';
import { RaftCore } from '../raft/index.js';
import type { ConfChange, ConfState, Entry, Message, RaftConfig, RaftStatus, Ready, SoftState } from '../raft/index.js';
import type { RaftStorage } from '../storage/types.js';
import type { PeerAddress, Transport } from '../transport/types.js';
import { decodeMemberContext, encodeMemberContext, type MemberInfo } from './members.js';
import type { StateMachine } from './state-machine.js';

/** A follower's leader counts as live while it was heard from within this many ticks (heartbeats). */
const LIVE_LEADER_TICKS = 2;

/** The rejection a timed-out read gets internally (its promise rejects with NO_QUORUM). */
const READ_TIMEOUT = new Error('read timed out');

/**
 * Most ticks fed to the core in one catch-up, in election timeouts. After a longer stall (a
 * paused process) the outcome is the same as ticking every one: a leader without acks has
 * stepped down within two election timeouts and a follower's vote refusal lapsed after one.
 */
const MAX_CATCH_UP_ELECTIONS = 4;

/** Options of a RaftNode. Times are milliseconds. */
export interface RaftNodeOptions<R> {
  readonly id: NodeId;
  /** The bootstrap members (used only when the data dir is empty). */
  readonly initialCluster: readonly MemberInfo[];
  /** Mixed into the cluster id so two clusters with the same members never mix. Default 'latch'. */
  readonly clusterToken?: string;
  /**
   * Join the existing cluster with this id instead of bootstrapping: the node starts with an empty
   * configuration (so it never campaigns) and learns the membership from the leader's log or snapshot.
   */
  readonly join?: string;
  readonly storage: RaftStorage;
  /** Built once the cluster id is known (it is fixed at bootstrap and read from storage after). */
  readonly transport: (clusterId: string, members: readonly MemberInfo[]) => Transport;
  readonly stateMachine: StateMachine<R>;
  /** Heartbeat interval = one tick. Default 100. */
  readonly heartbeatMs?: number;
  /** Base election timeout; rounded to whole ticks. Default 1000. */
  readonly electionTimeoutMs?: number;
  /** Take a snapshot after this many applied entries. Default 10 000. */
  readonly snapshotThreshold?: number;
  /** Reject a proposal not applied within this time (outcome unknown). Default 10 000. */
  readonly proposalTimeoutMs?: number;
  /** Most proposals in flight (proposed, not yet applied) before new ones get OVERLOADED. Default 4096. */
  readonly maxPendingProposals?: number;
  /** Raft knobs passed through (readOnly, flow control, testing faults). */
  readonly raft?: Omit<RaftConfig, 'id' | 'electionTicks' | 'heartbeatTicks'>;
  readonly logger?: Logger;
  /** The monotonic clock ticks are derived from (one tick per heartbeat elapsed). Default: the process's. */
  readonly clock?: Clock;
  /** Timers and deferral (on the clock's time base). Default: the process's. */
  readonly scheduler?: Scheduler;
  readonly rng?: Rng;
}

/** What a node reports about itself. */
export interface NodeStatus extends RaftStatus {
  readonly clusterId: string;
  readonly members: readonly MemberInfo[];
  readonly leaderClientAddress: string | null;
}

/** Events a node emits to the layer above. */
export type NodeEvent =
  | { readonly type: 'role'; readonly soft: SoftState; readonly term: number }
  | { readonly type: 'applied'; readonly index: number }
  | { readonly type: 'restored'; readonly index: number }
  | { readonly type: 'fatal'; readonly error: Error };

interface PendingProposal<R> {
  readonly term: number;
  readonly resolve: (r: R) => void;
  readonly reject: (e: Error) => void;
  /** Clock time after which it is failed (checked at every tick). */
  readonly deadline: number;
  readonly onTimeout: () => Error;
}

interface PendingRead {
  index: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly deadline: number;
}

/** Someone waiting for a condition of this node, re-checked at every tick and role change. */
interface Waiter {
  readonly ready: () => boolean;
  readonly deadline: number;
  readonly resolve: () => void;
}

/** The on-disk envelope of a node snapshot: the address book plus the state machine's bytes. */
export interface SnapshotEnvelope {
  readonly members: MemberInfo[];
  readonly sm: Uint8Array;
}

/** Derives the cluster id from the token and the bootstrap members (same on every node, no coordination). */
export function deriveClusterId(token: string, members: readonly MemberInfo[]): string {
  const ids = members.map((m) => m.id).sort().join(',');
  return createHash('sha256').update(`${token}\n${ids}`).digest('hex').slice(0, 16);
}

/** One Raft node: core + storage + transport + state machine. */
export class RaftNode<R = unknown> {
  private core!: RaftCore;
  private transport!: Transport;
  private clusterIdValue = '';
  private readonly members = new Map<NodeId, MemberInfo>();
  private readonly pending = new Map<number, PendingProposal<R>>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly waitingReads: PendingRead[] = [];
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  private readSeq = 0;
  private applied = 0;
  private snapshotIndex = 0;
  private soft: SoftState = { leader: null, role: 'follower' };
  private ticker: TimerHandle | undefined;
  private readonly waiters = new Set<Waiter>();
  /** The turn of the loop in flight (stop() waits for it). */
  private running: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  /** Clock reading at tick 0, and how many ticks the core has been given since. */
  private tickOrigin = 0;
  private ticksGiven = 0;
  private scheduled = false;
  private busy = false;
  private stopped = false;
  private started = false;
  private readonly log: Logger;
  private readonly heartbeatMs: number;
  private readonly electionTicks: number;
  private readonly snapshotThreshold: number;
  private readonly proposalTimeoutMs: number;

  constructor(private readonly opts: RaftNodeOptions<R>) {
    this.log = (opts.logger ?? silentLogger).child({ component: 'node' });
    this.heartbeatMs = opts.heartbeatMs ?? 100;
    this.electionTicks = Math.max(2, Math.round((opts.electionTimeoutMs ?? 1000) / this.heartbeatMs));
    this.snapshotThreshold = opts.snapshotThreshold ?? 10_000;
    this.proposalTimeoutMs = opts.proposalTimeoutMs ?? 10_000;
    this.clock = opts.clock ?? systemClock;
    this.scheduler = opts.scheduler ?? systemScheduler;
  }

  /** The cluster id (fixed at bootstrap). */
  get clusterId(): string {
    return this.clusterIdValue;
  }

  /** Election timeout in milliseconds, as configured (ticks × heartbeat). */
  get electionTimeoutMs(): number {
    return this.electionTicks * this.heartbeatMs;
  }

  /** Opens storage, restores the state machine and starts ticking and listening. */
  async start(): Promise<void> {
    if (this.started) throw new Error('RaftNode already started');
    this.started = true;
    const { storage, initialCluster, id } = this.opts;
    const stored = await storage.load();
    let clusterId: string;
    if (stored.identity) {
      if (stored.identity.nodeId !== id) {
        throw new StorageFatalError('(data dir)', `data dir belongs to node "${stored.identity.nodeId}", not "${id}"`);
      }
      clusterId = stored.identity.clusterId;
    } else {
      clusterId = this.opts.join ?? deriveClusterId(this.opts.clusterToken ?? 'latch', initialCluster);
      await storage.setIdentity({ clusterId, nodeId: id });
    }
    // Only a node of the bootstrap set (its cluster id derives from the initial cluster) may write the
    // genesis configuration; a joined or restored node never does, even if its log is still empty.
    const bootstrapMember = !this.opts.join && clusterId === deriveClusterId(this.opts.clusterToken ?? 'latch', initialCluster);
    this.clusterIdValue = clusterId;
    for (const m of initialCluster) this.members.set(m.id, m);

    const snap = stored.snapshot ? await storage.readSnapshot() : undefined;
    if (snap) {
      const env = decode<SnapshotEnvelope>(snap.data);
      this.members.clear();
      for (const m of env.members) this.members.set(m.id, m);
      this.opts.stateMachine.restore(env.sm, snap.meta.index);
      this.applied = snap.meta.index;
      this.snapshotIndex = snap.meta.index;
    }
    for (const e of stored.entries) this.noteConfEntry(e);

    const bootstrap: ConfState | undefined = bootstrapMember ? { voters: initialCluster.map((m) => m.id), learners: [] } : undefined;
    const config: RaftConfig = {
      ...this.opts.raft,
      id,
      electionTicks: this.electionTicks,
      // Elections start 1–1.5 timeouts after the leader's last word (not 1–2): a dead leader is
      // replaced sooner; split votes stay rare with PreVote. Never below the lease (electionTicks).
      electionJitterTicks: this.opts.raft?.electionJitterTicks ?? Math.max(1, Math.ceil(this.electionTicks / 2)),
      heartbeatTicks: 1,
    };
    this.core = new RaftCore(
      config,
      {
        hardState: stored.hardState,
        ...(stored.snapshot ? { snapshot: stored.snapshot } : {}),
        entries: stored.entries,
        ...(bootstrap ? { bootstrap } : {}),
        applied: this.applied,
      },
      this.opts.rng ?? systemRng,
    );
    this.transport = this.opts.transport(clusterId, [...this.members.values()]);
    await this.transport.start({
      onMessage: (m) => this.onMessage(m),
      onUnreachable: (peer) => this.withCore(() => this.core.reportUnreachable(peer)),
      onSnapshotStatus: (peer, ok) => this.withCore(() => this.core.reportSnapshot(peer, ok)),
    });
    this.tickOrigin = this.clock.now();
    this.ticksGiven = 0;
    this.armTicker();
    this.log.info({ clusterId, applied: this.applied, entries: stored.entries.length, term: stored.hardState.term }, 'node started');
    this.schedule();
  }

  /** Subscribes to node events; returns the unsubscribe function. */
  on(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True when this node is the leader. */
  get isLeader(): boolean {
    return this.soft.role === 'leader';
  }

  /** The leader's id, if known. */
  get leader(): NodeId | null {
    return this.soft.leader;
  }

  /** The applied index. */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The error to return when this node is not the leader (with the leader's client address). */
  notLeaderError(): NotLeaderError {
    // The core's view: the last Ready's soft state may lag it (a campaign begun by a tick that a
    // check just caught up on has not been handed out yet).
    const leader = this.core ? this.core.status().leader : this.soft.leader;
    return new NotLeaderError(leader, leader ? (this.members.get(leader)?.clientAddress ?? null) : null);
  }

  /**
   * Resolves once this node is the leader or follows a leader it heard from within the last two
   * heartbeats, or after `timeoutMs`, whichever is first; never rejects. A follower uses it to hold
   * a request it would redirect while its leader has gone quiet, so the client is sent straight to
   * the next leader instead of polling a dead one.
   */
  awaitLiveLeader(timeoutMs = this.electionTimeoutMs * 2): Promise<void> {
    const live = (): boolean => {
      if (this.stopped || !this.core) return true;
      // Silence is measured in ticks: bring them up to the clock first (a busy process's timer may be late).
      this.catchUpTicks();
      const st = this.core.status();
      return st.role === 'leader' || (st.leader !== null && this.core.leaderSilentTicks() <= LIVE_LEADER_TICKS);
    };
    return this.waitUntil(live, timeoutMs);
  }

  /**
   * Resolves once `ready()` holds (checked now, at every tick and at every role change) or
   * `timeoutMs` has passed on the clock, whichever is first; never rejects.
   */
  private waitUntil(ready: () => boolean, timeoutMs: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const w: Waiter = {
        ready,
        deadline: this.clock.now() + timeoutMs,
        resolve: () => {
          this.waiters.delete(w);
          resolve();
        },
      };
      this.waiters.add(w);
    });
  }

  private checkWaiters(): void {
    if (this.waiters.size === 0) return;
    const now = this.clock.now();
    for (const w of [...this.waiters]) if (w.ready() || now >= w.deadline) w.resolve();
  }

  /** Proposes `data`; resolves with the state machine's result once applied here. Leader only. */
  propose(data: Uint8Array): Promise<R> {
    this.assertRunning();
    const busy = this.overloaded();
    if (busy) return Promise.reject(busy);
    this.catchUpTicks();
    let at: { index: number; term: number };
    try {
      at = this.core.propose(data);
    } catch (err) {
      return Promise.reject(this.translate(err));
    }
    return new Promise<R>((resolve, reject) => {
      const onTimeout = (): Error => new LeadershipLostError(`proposal at index ${at.index} not applied within ${this.proposalTimeoutMs} ms; outcome unknown`);
      this.pending.set(at.index, { term: at.term, resolve, reject, deadline: this.clock.now() + this.proposalTimeoutMs, onTimeout });
      this.schedule();
    });
  }

  /** Proposes a membership change; resolves once it is applied here. Leader only. */
  proposeConfChange(change: ConfChange): Promise<void> {
    this.assertRunning();
    const busy = this.overloaded();
    if (busy) return Promise.reject(busy);
    this.catchUpTicks();
    let at: { index: number; term: number };
    try {
      at = this.core.proposeConfChange(change);
    } catch (err) {
      return Promise.reject(this.translate(err));
    }
    return new Promise<void>((resolve, reject) => {
      const onTimeout = (): Error => new LeadershipLostError('membership change not applied in time; outcome unknown');
      this.pending.set(at.index, { term: at.term, resolve: () => resolve(), reject, deadline: this.clock.now() + this.proposalTimeoutMs, onTimeout });
      this.schedule();
    });
  }

  /** Encodes a member for `add-learner`/`add-voter` conf changes. */
  static memberContext(m: MemberInfo): Uint8Array {
    return encodeMemberContext(m);
  }

  /** A linearizable read barrier: resolves once this node has applied everything committed before the call. */
  readBarrier(timeoutMs = this.electionTimeoutMs * 2): Promise<void> {
    this.assertRunning();
    const ctx = `${this.opts.id}/${++this.readSeq}`;
    return new Promise<void>((resolve, reject) => {
      const timedOut = (): void => reject(new LatchError('NO_QUORUM', `linearizable read not confirmed within ${timeoutMs} ms; is a quorum up?`));
      const pr: PendingRead = { index: -1, resolve, reject: (e) => (e === READ_TIMEOUT ? timedOut() : reject(e)), deadline: this.clock.now() + timeoutMs };
      this.reads.set(ctx, pr);
      try {
        this.catchUpTicks();
        this.core.readIndex(ctx);
      } catch (err) {
        this.reads.delete(ctx);
        reject(this.translate(err));
        return;
      }
      this.schedule();
    });
  }

  /** Asks the core to hand leadership to `to`. */
  transferLeadership(to: NodeId): void {
    this.assertRunning();
    this.catchUpTicks();
    this.core.transferLeadership(to);
    this.schedule();
  }

  /** Hands leadership to the most caught-up voter and waits (up to `timeoutMs`) until it has moved. */
  async handOffLeadership(timeoutMs = this.electionTimeoutMs * 2): Promise<boolean> {
    if (!this.isLeader) return false;
    const st = this.core.status();
    const candidates = Object.entries(st.progress ?? {})
      .filter(([id, p]) => id !== this.opts.id && !p.learner && st.confState.voters.includes(id))
      .sort((a, b) => b[1].match - a[1].match);
    const target = candidates[0]?.[0];
    if (!target) return false;
    this.transferLeadership(target);
    await this.waitUntil(() => !this.isLeader, timeoutMs);
    return !this.isLeader;
  }

  /** The node's status (role, term, indexes, members). */
  status(): NodeStatus {
    const st = this.core.status();
    const leader = st.leader;
    return {
      ...st,
      applied: this.applied,
      clusterId: this.clusterIdValue,
      members: [...this.members.values()],
      leaderClientAddress: leader ? (this.members.get(leader)?.clientAddress ?? null) : null,
    };
  }

  /** The members known to this node. */
  memberList(): MemberInfo[] {
    return [...this.members.values()];
  }

  /** Stops ticking, fails pending requests, closes transport and storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.disarmTicker();
    this.failAll(new LatchError('SHUTTING_DOWN', 'node is shutting down'));
    for (const w of [...this.waiters]) w.resolve();
    // Let an in-flight persist finish so the batch either fully lands or is not acknowledged.
    await this.running;
    await this.transport?.close().catch(() => undefined);
    await this.opts.storage.close().catch(() => undefined);
    this.log.info('node stopped');
  }

  /**
   * Admission control: OVERLOADED (nothing happened) once `maxPendingProposals` are in flight. The
   * hint is one heartbeat per 1/8 of the bound in flight beyond it, at least one heartbeat.
   */
  private overloaded(): OverloadedError | undefined {
    const max = this.opts.maxPendingProposals ?? 4096;
    if (this.pending.size < max) return undefined;
    const retryAfterMs = this.heartbeatMs * Math.max(1, Math.ceil((this.pending.size - max + 1) / Math.max(1, Math.floor(max / 8))));
    return new OverloadedError(retryAfterMs, `${this.pending.size} proposals are in flight on this leader (max ${max}); nothing happened; retry in ${retryAfterMs} ms`);
  }

  private assertRunning(): void {
    if (!this.started || !this.core) throw new LatchError('NO_QUORUM', 'node is not started');
    if (this.stopped) throw new LatchError('SHUTTING_DOWN', 'node is shutting down');
  }

  private translate(err: unknown): Error {
    if (err instanceof NotLeaderError) return this.notLeaderError();
    if (err instanceof Error) return err;
    return new Error(String(err));
  }

  private onMessage(m: Message): void {
    if (m.type === 'snapshot' || m.type === 'append') this.noteIncoming(m);
    this.withCore(() => this.core.step(m));
  }

  /** Learns member addresses from entries a leader sends, before they are persisted, so replies can be routed. */
  private noteIncoming(m: Message): void {
    if (m.type === 'append') for (const e of m.entries) this.noteConfEntry(e);
  }

  /**
   * True while this node leads and holds the leader lease (RaftCore.hasLeaderLease), with the
   * core's ticks first brought up to the clock. A promise extended in time without a log entry (a
   * keepalive acknowledgement) may be given only while this is true, in the same synchronous step.
   */
  hasLeaderLease(): boolean {
    if (this.stopped || !this.core) return false;
    this.catchUpTicks();
    return this.core.hasLeaderLease();
  }

  /**
   * Gives the core every tick due by the clock (one per heartbeat since start), so its tick count,
   * which its lease and vote refusal are measured in, never lags the clock by a whole tick when it
   * sees an input. Timers only wake the loop: a late or stalled timer (a paused process) cannot make
   * the core believe less time has passed than has.
   */
  private catchUpTicks(): void {
    const due = Math.floor((this.clock.now() - this.tickOrigin) / this.heartbeatMs);
    let n = due - this.ticksGiven;
    if (n <= 0) return;
    n = Math.min(n, MAX_CATCH_UP_ELECTIONS * this.electionTicks);
    this.ticksGiven = due;
    for (let i = 0; i < n; i++) this.core.tick();
    this.schedule();
  }

  /** Arms the one timer of the node: at the next tick boundary of the clock. */
  private armTicker(): void {
    if (this.stopped) return;
    const next = this.tickOrigin + (this.ticksGiven + 1) * this.heartbeatMs;
    this.ticker = this.scheduler.setTimeout(() => {
      this.ticker = undefined;
      this.withCore(() => this.expireDeadlines());
      this.checkWaiters();
      this.armTicker();
    }, Math.max(0, next - this.clock.now()));
  }

  private disarmTicker(): void {
    if (this.ticker !== undefined) this.scheduler.clearTimeout(this.ticker);
    this.ticker = undefined;
  }

  /** Fails proposals and reads whose time ran out (checked at every tick: at most a heartbeat late). */
  private expireDeadlines(): void {
    const now = this.clock.now();
    // Proposals share one timeout, so their deadlines grow with their index (the map's order).
    for (const [index, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(index);
      p.reject(p.onTimeout());
    }
    for (const [ctx, r] of this.reads) {
      if (r.deadline > now) continue;
      this.reads.delete(ctx);
      r.reject(READ_TIMEOUT);
    }
    for (let i = this.waitingReads.length - 1; i >= 0; i--) {
      const r = this.waitingReads[i]!;
      if (r.deadline > now) continue;
      this.waitingReads.splice(i, 1);
      r.reject(READ_TIMEOUT);
    }
  }

  private withCore(fn: () => void): void {
    if (this.stopped || !this.core) return;
    try {
      this.catchUpTicks();
      fn();
    } catch (err) {
      this.log.warn({ err }, 'core rejected input');
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.scheduler.defer(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private emit(e: NodeEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err }, 'node event listener threw');
      }
    }
  }

  /** One turn of the loop: handle one Ready completely, honouring its ordering rules. */
  private async run(): Promise<void> {
    if (this.busy || this.stopped || !this.core.hasReady()) return;
    this.busy = true;
    let endTurn!: () => void;
    this.running = new Promise<void>((r) => (endTurn = r));
    const rd = this.core.ready();
    try {
      // With a snapshot, roles change first (its restore fails what it replaces); otherwise after
      // this Ready's committed entries are applied, so a proposal committed by the Ready that
      // also steps the leader down (a leader removing itself) gets its result, not LEADERSHIP_LOST.
      if (rd.softState && rd.snapshot) this.onSoftState(rd.softState);
      for (const e of rd.entries) this.noteConfEntry(e);
      // Leader's AppendEntries go out while its own write is in flight (DESIGN §2).
      if (rd.messages.length > 0) this.transport.send(rd.messages);
      const saving =
        rd.snapshot || rd.entries.length > 0 || rd.hardState
          ? this.opts.storage.save(
              { ...(rd.hardState ? { hardState: rd.hardState } : {}), entries: rd.entries, ...(rd.snapshot ? { snapshot: rd.snapshot } : {}) },
              rd.mustSync,
            )
          : undefined;
      // Committed entries are already durable here (the core hands out none past its stable
      // index), so they are applied, and their callers answered, while this Ready's write is in
      // flight; after a snapshot from the leader they must wait for it to be restored.
      try {
        if (!rd.snapshot) this.applyEntries(rd.committedEntries);
        if (rd.softState && !rd.snapshot) this.onSoftState(rd.softState);
      } catch (err) {
        await saving?.catch(() => undefined);
        throw err;
      }
      await saving;
      // Votes and append responses only after their state is durable.
      if (rd.persistedMessages.length > 0) this.transport.send(rd.persistedMessages);
      if (rd.snapshot) {
        this.restoreSnapshot(rd.snapshot.data, rd.snapshot.meta.index);
        this.applyEntries(rd.committedEntries);
      }
      for (const rs of rd.readStates) this.onReadState(rs.context, rs.index);
      for (const ctx of rd.failedReads) {
        const r = this.reads.get(ctx);
        if (r) {
          this.reads.delete(ctx);
          r.reject(this.soft.role === 'leader' ? new LatchError('NO_QUORUM', 'read could not be confirmed') : this.notLeaderError());
        }
      }
      this.core.advance(rd);
      this.serveReads();
      await this.maybeSnapshot();
    } catch (err) {
      this.fatal(err);
      return;
    } finally {
      this.busy = false;
      this.running = undefined;
      endTurn();
    }
    this.schedule();
  }

  private fatal(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.log.fatal({ err: error }, 'node stopping after a fatal error (storage or apply)');
    this.emit({ type: 'fatal', error });
    this.failAll(isLatchError(error) ? error : new LatchError('STORAGE_FATAL', error.message, { cause: error }));
    this.stopped = true;
    this.disarmTicker();
  }

  private onSoftState(s: SoftState): void {
    const wasLeader = this.soft.role === 'leader';
    this.soft = s;
    if (wasLeader && s.role !== 'leader') {
      // Entries we proposed may or may not commit under the next leader: the outcome is unknown.
      for (const [index, p] of this.pending) {
        p.reject(new LeadershipLostError());
        this.pending.delete(index);
      }
    }
    this.log.info({ role: s.role, leader: s.leader }, 'role changed');
    this.emit({ type: 'role', soft: s, term: this.core.status().term });
    this.checkWaiters();
  }

  private noteConfEntry(e: Entry): void {
    if (e.type !== 'conf') return;
    const ch = e.change;
    if (ch.type === 'add-learner' || ch.type === 'add-voter') {
      const m = decodeMemberContext(ch.context);
      if (m && m.id === ch.node) {
        this.members.set(m.id, m);
        this.transport?.setPeers(this.peerAddresses());
      }
    }
  }

  private peerList(): MemberInfo[] {
    return [...this.members.values()];
  }

  /** Peer addresses of every other member, for the transport. */
  private peerAddresses(): PeerAddress[] {
    return this.peerList()
      .filter((m) => m.id !== this.opts.id)
      .map((m) => ({ id: m.id, address: m.peerAddress }));
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      let result: unknown;
      if (e.type === 'normal') {
        result = this.opts.stateMachine.apply({ index: e.index, term: e.term, data: e.data });
      } else {
        // A configuration takes effect when appended: a later entry may already have added the
        // node back (e.g. removed, then re-joined), so forget it only if it is still out.
        if (e.type === 'conf' && e.change.type === 'remove' && !this.inConfiguration(e.change.node)) {
          this.members.delete(e.change.node);
          this.transport.setPeers(this.peerAddresses());
        }
        this.opts.stateMachine.applyInternal?.({ index: e.index, term: e.term, type: e.type });
      }
      this.applied = e.index;
      const p = this.pending.get(e.index);
      if (p) {
        this.pending.delete(e.index);
        if (p.term === e.term) p.resolve(result as R);
        else p.reject(new LeadershipLostError(`entry ${e.index} was replaced by a later leader; not applied`));
      }
    }
    if (entries.length > 0) this.emit({ type: 'applied', index: this.applied });
  }

  /** Whether `node` is a voter or learner of the latest configuration in the log. */
  private inConfiguration(node: NodeId): boolean {
    const conf = this.core.status().confState;
    return conf.voters.includes(node) || conf.learners.includes(node);
  }

  private restoreSnapshot(data: Uint8Array, index: number): void {
    const env = decode<SnapshotEnvelope>(data);
    this.opts.stateMachine.restore(env.sm, index);
    for (const m of env.members) this.members.set(m.id, m);
    this.transport.setPeers(this.peerAddresses());
    this.applied = index;
    this.snapshotIndex = index;
    for (const [i, p] of this.pending) {
      if (i <= index) {
        this.pending.delete(i);
        p.reject(new LeadershipLostError('replaced by a snapshot; outcome unknown'));
      }
    }
    this.log.info({ index }, 'restored snapshot from leader');
    this.emit({ type: 'restored', index });
  }

  private onReadState(ctx: string, index: number): void {
    const r = this.reads.get(ctx);
    if (!r) return;
    this.reads.delete(ctx);
    r.index = index;
    this.waitingReads.push(r);
  }

  private serveReads(): void {
    for (let i = this.waitingReads.length - 1; i >= 0; i--) {
      const r = this.waitingReads[i]!;
      if (r.index <= this.applied) {
        this.waitingReads.splice(i, 1);
        r.resolve();
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.applied - this.snapshotIndex < this.snapshotThreshold) return;
    const st = this.core.status();
    // A snapshot installed from the leader may already cover `applied`; compaction must be past it.
    if (st.snapshotIndex >= this.applied || st.applied !== this.applied) return;
    const index = this.applied;
    const env: SnapshotEnvelope = { members: this.peerList(), sm: this.opts.stateMachine.snapshot() };
    const meta = this.core.compact(index);
    await this.opts.storage.compact({ meta, data: encode(env) });
    this.snapshotIndex = index;
    this.log.info({ index }, 'snapshot taken, log compacted');
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      p.reject(err);
    }
    this.pending.clear();
    for (const r of [...this.reads.values(), ...this.waitingReads]) {
      r.reject(err);
    }
    this.reads.clear();
    this.waitingReads.length = 0;
  }
}
