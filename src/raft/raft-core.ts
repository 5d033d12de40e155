/**
 * RaftCore: the public, deterministic Raft node (etcd's RawNode). No timers, no I/O, no clock:
 * the driver calls `tick()`, feeds `step()`, `propose()`, `readIndex()`..., then takes a `Ready`,
 * does what it says in the order written on the `Ready` type, and calls `advance()`.
 */
import { LatchError, NotLeaderError, isIndex, isNodeId, type NodeId, type Rng } from '../common/index.js';
import { isConfChange, isLearner, isVoter, nextConfiguration } from './conf.js';
import { resolveConfig } from './config.js';
import { normalizeInitialState } from './initial-state.js';
import { appendEntry, leaseHeld, maybeCommit, transferLeadership } from './leader.js';
import { Raft } from './raft.js';
import type { ConfChange, HardState, InitialState, Message, PeerProgress, RaftConfig, RaftStatus, Ready, SnapshotMeta, SoftState } from './types.js';

/**
 * How far (in entries) a learner's match may trail the leader's commit index and still be promoted.
 * Promoting a far-behind learner would make the new quorum wait for it to catch up.
 */
export const PROMOTE_MAX_LAG = 0;

function invalid(message: string): LatchError {
  return new LatchError('INVALID_ARGUMENT', message);
}

/**
 * A Raft node as a pure state machine. Not thread-safe, not re-entrant; every method is
 * synchronous. At most one Ready is outstanding: after `ready()`, `hasReady()` is false until
 * `advance()`, but `tick`/`step`/`propose`... may still be called in between (their effects go
 * into the next Ready).
 */
export class RaftCore {
  private readonly r: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | undefined;

  /**
   * Builds a node from its config, its durable state and a seeded RNG (election jitter only).
   * Throws ConfigError for a bad config and LatchError('INVALID_ARGUMENT') for a bad initial state.
   */
  constructor(config: RaftConfig, initial: InitialState, rng: Rng) {
    const cfg = resolveConfig(config);
    const init = normalizeInitialState(initial);
    this.r = new Raft(cfg, init, rng);
    this.prevSoft = { leader: null, role: 'follower' };
    // The durable hard state (genesis changes it, so the first Ready persists term 1 and the commit).
    this.prevHard = init.genesis ? { term: 0, vote: null, commit: 0 } : { term: init.term, vote: init.vote, commit: initial.hardState.commit };
  }

  /** One logical tick: election timeouts for followers and candidates, heartbeats for the leader. */
  tick(): void {
    this.r.tick();
  }

  /**
   * Handles a message from a peer. Messages not addressed to this node, from itself, or malformed
   * are dropped and counted (`status().droppedMessages`); never throws for bad input.
   */
  step(msg: Message): void {
    this.r.step(msg);
  }

  /**
   * Appends `data` as a new entry (leader only); it is broadcast with the next Ready, batched with
   * every other proposal made before it. Throws NotLeaderError(leader hint) on a non-leader, and
   * LatchError('PROPOSAL_DROPPED') during a leadership transfer or above maxUncommittedBytes.
   */
  propose(data: Uint8Array): { index: number; term: number } {
    if (!(data instanceof Uint8Array)) throw invalid('proposal data must be a Uint8Array');
    this.checkCanPropose();
    const r = this.r;
    const size = data.byteLength;
    if (r.uncommittedSize > 0 && r.uncommittedSize + size > r.cfg.maxUncommittedBytes) {
      throw new LatchError('PROPOSAL_DROPPED', `too much uncommitted data (${r.uncommittedSize} bytes); retry later`);
    }
    return appendEntry(r, { type: 'normal', data });
  }

  /**
   * Proposes one membership change (one server at a time). Throws NotLeaderError on a non-leader;
   * LatchError('CONF_CHANGE_IN_PROGRESS') while a conf entry is uncommitted or before this leader
   * committed an entry of its term; LatchError('INVALID_ARGUMENT') for nonsense (adding a member,
   * promoting a non-learner, removing an unknown node or the last voter); LatchError('PROPOSAL_DROPPED')
   * during a transfer, or when promoting a learner that has not caught up with the commit index.
   */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    if (!isConfChange(cc)) throw invalid(`malformed conf change ${JSON.stringify(cc)}`);
    this.checkCanPropose();
    const r = this.r;
    if (!r.committedInTerm()) {
      throw new LatchError('CONF_CHANGE_IN_PROGRESS', 'the leader has not yet committed an entry of its term; retry shortly');
    }
    if (r.log.lastConfIndex() > r.log.committed) {
      throw new LatchError('CONF_CHANGE_IN_PROGRESS', `membership change at index ${r.log.lastConfIndex()} is not yet committed`);
    }
    const next = nextConfiguration(r.conf, cc);
    if (!next.ok) throw invalid(`conf change refused: ${next.reason}`);
    if (cc.type === 'promote') {
      const match = r.prs.get(cc.node)?.match ?? 0;
      if (match + PROMOTE_MAX_LAG < r.log.committed) {
        throw new LatchError('PROPOSAL_DROPPED', `learner ${cc.node} has not caught up (match ${match}, commit ${r.log.committed}); retry later`);
      }
    }
    return appendEntry(r, { type: 'conf', change: cc });
  }

  private checkCanPropose(): void {
    const r = this.r;
    if (r.role !== 'leader') throw new NotLeaderError(r.lead);
    if (r.leadTransferee !== null) {
      throw new LatchError('PROPOSAL_DROPPED', `leadership is being transferred to ${r.leadTransferee}`);
    }
  }

  /**
   * Requests a linearizable read (dissertation §6.4). The answer arrives as a ReadState with this
   * `context` (serve it once applied ≥ its index), or in `failedReads`. A follower forwards it to
   * the leader. Throws NotLeaderError when no leader is known, INVALID_ARGUMENT for a context that
   * is already pending here.
   */
  readIndex(context: string): void {
    if (typeof context !== 'string') throw invalid('read context must be a string');
    const r = this.r;
    if (r.role === 'leader') {
      if (r.readOnly.hasLocal(context) || r.waitingReads.some((w) => w.from === null && w.context === context)) {
        throw invalid(`read ${JSON.stringify(context)} is already pending`);
      }
      r.leaderRead(context, null);
      return;
    }
    if (r.lead === null) throw new NotLeaderError(null);
    if (r.forwarded.has(context)) throw invalid(`read ${JSON.stringify(context)} is already pending`);
    r.forwarded.set(context, { to: r.lead, tick: r.ticks });
    r.send({ type: 'read-index', to: r.lead, context });
  }

  /**
   * Transfers leadership to voter `to` (dissertation §3.10): proposals are refused meanwhile; once
   * `to` has the whole log it gets TimeoutNow; aborted after an election timeout. `to` = this node
   * cancels a transfer. Throws NotLeaderError on a non-leader, INVALID_ARGUMENT if `to` is not a voter.
   */
  transferLeadership(to: NodeId): void {
    const r = this.r;
    if (r.role !== 'leader') throw new NotLeaderError(r.lead);
    if (to === r.id) {
      r.leadTransferee = null;
      return;
    }
    if (!isNodeId(to) || !isVoter(r.conf, to)) {
      throw invalid(`cannot transfer leadership to ${String(to)}: not a voter${isLearner(r.conf, to) ? ' (a learner)' : ''}`);
    }
    transferLeadership(r, to);
  }

  /** Starts an election now (with a pre-vote round if enabled). No-op on a leader or a non-voter. */
  campaign(): void {
    this.r.campaign(this.r.cfg.preVote ? 'pre-vote' : 'vote');
  }

  /** True when `ready()` has work (and no Ready is outstanding). */
  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const r = this.r;
    if (r.pendingBcast && r.role === 'leader') return true;
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true;
    if (r.term !== this.prevHard.term || r.vote !== this.prevHard.vote || r.log.committed !== this.prevHard.commit) return true;
    return (
      r.log.hasWork() ||
      r.msgs.length > 0 ||
      r.persistedMsgs.length > 0 ||
      r.readStates.length > 0 ||
      r.failedReads.length > 0
    );
  }

  /**
   * Takes the work to do; see the ordering comment on `Ready`. Throws INVALID_ARGUMENT if the
   * previous Ready was not yet advanced.
   */
  ready(): Ready {
    if (this.outstanding !== undefined) throw invalid('ready() called before advance() of the previous Ready');
    const r = this.r;
    r.flushBroadcast();
    const work = r.log.takeWork();
    const soft: SoftState = { leader: r.lead, role: r.role };
    const hard: HardState = { term: r.term, vote: r.vote, commit: r.log.committed };
    const softChanged = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role;
    const voteChanged = hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
    const hardChanged = voteChanged || hard.commit !== this.prevHard.commit;
    const rd: Ready = {
      ...(softChanged ? { softState: soft } : {}),
      ...(hardChanged ? { hardState: hard } : {}),
      entries: work.entries,
      ...(work.snapshot !== undefined ? { snapshot: work.snapshot } : {}),
      messages: r.msgs,
      persistedMessages: r.persistedMsgs,
      committedEntries: work.committed,
      readStates: r.readStates,
      failedReads: r.failedReads,
      mustSync: voteChanged || work.entries.length > 0 || work.snapshot !== undefined,
    };
    r.msgs = [];
    r.persistedMsgs = [];
    r.readStates = [];
    r.failedReads = [];
    r.readOnly.markSent();
    if (softChanged) this.prevSoft = soft;
    if (hardChanged) this.prevHard = hard;
    this.outstanding = rd;
    return rd;
  }

  /**
   * The driver has done everything in `ready` (persisted, sent, applied). The leader now counts
   * its own persisted entries toward the commit; a candidate its own durable vote.
   */
  advance(ready: Ready): void {
    if (ready !== this.outstanding) throw invalid('advance() must be given the outstanding Ready');
    this.outstanding = undefined;
    const r = this.r;
    const appliedTo = Math.max(ready.committedEntries.at(-1)?.index ?? 0, ready.snapshot?.meta.index ?? 0);
    r.log.persisted(ready.entries, ready.snapshot, appliedTo);
    if (ready.hardState !== undefined) r.persistedHardState(ready.hardState.term, ready.hardState.vote);
    if (r.role === 'leader') {
      const self = r.prs.get(r.id);
      if (self !== undefined && self.maybeUpdate(r.log.stable)) maybeCommit(r);
    }
  }

  /**
   * The application took a snapshot of its state at applied index `index`: the log up to it is
   * dropped from memory. Returns the snapshot's metadata (index, term, configuration at index).
   * Throws INVALID_ARGUMENT unless snapshotIndex < index ≤ applied.
   */
  compact(index: number): SnapshotMeta {
    const log = this.r.log;
    if (!isIndex(index) || index <= log.snapshotIndex() || index > log.applied) {
      throw invalid(`cannot compact at ${String(index)}: must be in (${log.snapshotIndex()}, ${log.applied}] (snapshot index, applied]`);
    }
    return log.compact(index);
  }

  /** The transport could not reach `peer`: stop streaming to it and probe again. */
  reportUnreachable(peer: NodeId): void {
    const pr = this.r.role === 'leader' ? this.r.prs.get(peer) : undefined;
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /**
   * A snapshot send to `peer` finished (`ok`) or failed. Either way the peer goes back to probing,
   * after waiting for its response (ok) or a heartbeat interval (failure).
   */
  reportSnapshot(peer: NodeId, ok: boolean): void {
    const pr = this.r.role === 'leader' ? this.r.prs.get(peer) : undefined;
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    pr.paused = true;
  }

  /** A snapshot of the node's state for status pages and tests. */
  status(): RaftStatus {
    const r = this.r;
    const base = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      role: r.role,
      leader: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      snapshotIndex: r.log.snapshotIndex(),
      confState: r.conf,
      leadTransferee: r.leadTransferee,
      droppedMessages: r.dropped,
    };
    if (r.role !== 'leader') return base;
    const progress: Record<NodeId, PeerProgress> = {};
    for (const [id, pr] of r.prs) progress[id] = pr.view();
    return { ...base, progress };
  }

  /** Ticks since this follower last heard from its leader (0 on a leader; counts on otherwise). */
  leaderSilentTicks(): number {
    return this.r.role === 'leader' ? 0 : this.r.electionElapsed;
  }

  /**
   * True while this node is the leader and holds the leader lease: a quorum of voters acknowledged
   * a heartbeat round sent fewer than electionTicks − leaseDriftTicks ticks ago, so no other leader
   * can exist yet. Anything that extends a promise in time without a log entry (a keepalive
   * acknowledgement) is allowed only while this is true. It means what it says only if the driver
   * ticks in step with its clock, before every input (see RaftNode).
   */
  hasLeaderLease(): boolean {
    return leaseHeld(this.r);
  }

  /** Bytes of entry data appended by this leader and not yet committed (0 on a non-leader). */
  uncommittedBytes(): number {
    return this.r.uncommittedSize;
  }
}

