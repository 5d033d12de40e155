/**
 * The Raft protocol state machine (etcd's raft.go): roles, terms, votes, the single `step()`
 * dispatch, and the follower side of replication. The leader's replication and reads live in
 * `leader.ts`; the public wrapper with Ready/advance is `RaftCore` in `raft-core.ts`.
 *
 * Internal to src/raft: fields are public for the sibling modules, not for the rest of Latch.
 */
import { assertNever, type NodeId, type Rng } from '../common/index.js';
import { isLearner, isMember, isVoter, members } from './conf.js';
import type { ResolvedConfig } from './config.js';
import { bcastAppend, bcastHeartbeat, becomeLeaderInit, maybeCommit, serveConfirmedReads, serveRead, stepLeader } from './leader.js';
import { RaftLog } from './log.js';
import type { NormalizedInitialState } from './initial-state.js';
import { Progress } from './progress.js';
import { voteResult } from './quorum.js';
import { ReadOnly } from './read-only.js';
import type { ConfState, Message, ReadState, Role } from './types.js';
import { isMessage } from './validate.js';

/** Distributes a type over a union so each member keeps its own fields. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A message as built inside the core; `from` (and usually `term`) are filled in by `send`. */
export type Outgoing = DistributiveOmit<Message, 'from' | 'term'> & { readonly term?: number };

/** Message types that promise something about durable state: sent only after the Ready is persisted. */
const AFTER_PERSIST = new Set<Message['type']>(['vote', 'vote-resp', 'pre-vote-resp', 'append-resp']);

/** A read a follower forwarded to its leader and is waiting for. */
interface ForwardedRead {
  readonly to: NodeId;
  readonly tick: number;
}

/** The protocol state of one node. */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedConfig;
  private readonly rng: Rng;

  term: number;
  vote: NodeId | null;
  lead: NodeId | null = null;
  role: Role = 'follower';
  readonly log: RaftLog;
  /** The current configuration (the log's, cached to notice changes). */
  conf: ConfState;

  /** Replication progress of every member and of this node (leader only). */
  readonly prs = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks since construction (monotonic); the leader's lease clock. */
  ticks = 0;
  /**
   * Tick of the last message from a leader of our term (or of being leader). Vote requests are
   * ignored within an election timeout of it, whatever terms came in between: this promise is
   * what a leader lease relies on. A restarted node starts "in contact" (it may have backed a
   * lease just before it crashed); a first boot does not.
   */
  private lastLeaderContact: number;

  leadTransferee: NodeId | null = null;
  /** A TimeoutNow went out in this term: the target may win at any moment, so no more lease reads. */
  timeoutNowSent = false;
  /** Bytes of entries this leader appended that are not yet committed. */
  uncommittedSize = 0;
  /** Proposals or a commit advance wait to be broadcast once, when the driver next takes a Ready. */
  pendingBcast = false;

  readonly readOnly = new ReadOnly();
  /** Reads that arrived before this leader committed an entry of its term. */
  waitingReads: { context: string; from: NodeId | null }[] = [];
  readonly forwarded = new Map<string, ForwardedRead>();

  msgs: Message[] = [];
  persistedMsgs: Message[] = [];
  readStates: ReadState[] = [];
  failedReads: string[] = [];
  /** Messages dropped by `step` as malformed, misaddressed, or contradicting committed entries. */
  dropped = 0;

  constructor(cfg: ResolvedConfig, init: NormalizedInitialState, rng: Rng) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.rng = rng;
    this.term = init.term;
    this.vote = init.vote;
    this.log = new RaftLog(init);
    this.conf = this.log.confState();
    this.lastLeaderContact = init.term > 0 && !init.genesis ? 0 : -Infinity;
    this.resetRandomizedElectionTimeout();
  }

  // ---- helpers ----

  /** True when this node may campaign: it is a voter of its current configuration. */
  promotable(): boolean {
    return isVoter(this.conf, this.id);
  }

  /** True when the committed index is an entry of the current term (dissertation §6.4). */
  committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.rng.int(this.cfg.electionJitterTicks);
  }

  /**
   * CheckQuorum lease on the voter side: a node that heard from a live leader within the minimum
   * election timeout (or restarted less than one ago), or is the leader, ignores (pre)vote requests.
   */
  private inLease(): boolean {
    if (!this.cfg.checkQuorum) return false;
    return this.role === 'leader' || this.ticks - this.lastLeaderContact < this.cfg.electionTicks;
  }

  /** Queues a message: to `persistedMsgs` when it depends on durable state, else to `msgs`. */
  send(m: Outgoing): void {
    const msg = Object.assign({ type: m.type, from: this.id, to: m.to, term: this.term }, m) as Message;
    const skip = msg.type === 'vote-resp' && this.cfg.faults.skipVotePersist;
    if (AFTER_PERSIST.has(msg.type) && !skip) this.persistedMsgs.push(msg);
    else this.msgs.push(msg);
  }

  /** Re-reads the configuration after the log changed; the leader adds and removes progress. */
  syncConf(): void {
    const c = this.log.confState();
    if (c === this.conf) return;
    this.conf = c;
    if (this.role !== 'leader') return;
    for (const m of members(c)) {
      const pr = this.prs.get(m);
      if (pr === undefined) this.prs.set(m, this.newProgress(this.log.lastIndex() + 1, isLearner(c, m)));
      else pr.learner = isLearner(c, m);
    }
    for (const id of [...this.prs.keys()]) if (id !== this.id && !isMember(c, id)) this.prs.delete(id);
    if (this.leadTransferee !== null && !isVoter(c, this.leadTransferee)) this.leadTransferee = null;
    maybeCommit(this);
    serveConfirmedReads(this);
  }

  /** A fresh progress tracker with this node's flow-control limits. */
  newProgress(next: number, learner: boolean): Progress {
    return new Progress(next, learner, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
  }

  // ---- reads ----

  /** Fails every read this node waits for as a leader (local ones to failedReads, forwarded ones rejected). */
  private failLeaderReads(): void {
    const reads = [...this.waitingReads, ...this.readOnly.reset()];
    this.waitingReads = [];
    for (const r of reads) {
      if (r.from === null) this.failedReads.push(r.context);
      else this.send({ type: 'read-index-resp', to: r.from, context: r.context, index: 0, reject: true });
    }
  }

  /** Fails every read this follower forwarded and is still waiting for. */
  failForwardedReads(): void {
    for (const ctx of this.forwarded.keys()) this.failedReads.push(ctx);
    this.forwarded.clear();
  }

  /** Answers a confirmed read: a ReadState locally, a read-index-resp to the follower that forwarded it. */
  respondRead(context: string, from: NodeId | null, index: number): void {
    if (from === null) this.readStates.push({ index, context });
    else this.send({ type: 'read-index-resp', to: from, context, index, reject: false });
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (this.role === 'leader') this.failLeaderReads();
    this.failForwardedReads();
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = null;
    this.timeoutNowSent = false;
    this.votes.clear();
    this.prs.clear();
    this.uncommittedSize = 0;
    this.pendingBcast = false;
  }

  /** Becomes a follower of `lead` (or of no known leader) in `term`. */
  becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    // Dissertation §9.6: a pre-candidate changes neither its term nor its vote.
    this.failForwardedReads();
    this.votes.clear();
    this.lead = null;
    this.role = 'pre-candidate';
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    becomeLeaderInit(this);
  }

  /** Starts an election: a pre-vote round first when enabled, unless this is a leadership transfer. */
  campaign(kind: 'pre-vote' | 'vote', transfer = false): void {
    if (!this.promotable() || this.role === 'leader') return;
    let voteTerm: number;
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
      this.votes.set(this.id, true);
      if (this.tally()) return;
    } else {
      // Our own vote counts once it is durable (`persistedHardState`): a single voter waits for one advance().
      this.becomeCandidate();
      voteTerm = this.term;
    }
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      const base = { to: v, term: voteTerm, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm() };
      this.send(transfer ? { type: kind, ...base, transfer: true } : { type: kind, ...base });
    }
  }

  /** Counts votes; acts on a decided outcome and returns true then. */
  private tally(): boolean {
    const res = voteResult(this.conf.voters, this.votes);
    if (res === 'won') {
      if (this.role === 'pre-candidate') this.campaign('vote');
      else this.becomeLeader();
      return true;
    }
    if (res === 'lost') {
      this.becomeFollower(this.term, null);
      return true;
    }
    return false;
  }

  /** The Ready carrying hard state `term`/`vote` is durable: a candidate may now count its own vote. */
  persistedHardState(term: number, vote: NodeId | null): void {
    if (this.role === 'candidate' && term === this.term && vote === this.id && !this.votes.has(this.id)) {
      this.votes.set(this.id, true);
      this.tally();
    }
  }

  // ---- ticks ----

  /** One logical tick. */
  tick(): void {
    this.ticks++;
    for (const [ctx, f] of this.forwarded) {
      if (this.ticks - f.tick >= this.cfg.electionTicks) {
        this.forwarded.delete(ctx);
        this.failedReads.push(ctx);
      }
    }
    if (this.role === 'leader') {
      this.lastLeaderContact = this.ticks;
      this.tickHeartbeat();
    } else {
      this.tickElection();
    }
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote ? 'pre-vote' : 'vote');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        const active = this.conf.voters.filter((v) => v === this.id || this.prs.get(v)?.recentActive === true);
        if (voteResult(this.conf.voters, new Map(active.map((v) => [v, true]))) !== 'won') {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
      }
      this.leadTransferee = null; // a transfer not done within an election timeout is aborted
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      bcastHeartbeat(this);
    }
  }

  // ---- step ----

  /** Handles one message from a peer. Malformed or misaddressed ones are dropped and counted. */
  step(m: Message): void {
    if (!isMessage(m) || m.to !== this.id || m.from === this.id) {
      this.dropped++;
      return;
    }
    if ((m.type === 'vote' || m.type === 'pre-vote') && m.term >= this.term && m.transfer !== true && this.inLease()) {
      // Within the lease we back, no new vote (a retransmitted request for our vote is still answered).
      if (!(m.type === 'vote' && m.term === this.term && this.vote === m.from)) return;
    }
    if (m.term > this.term) {
      if (m.type === 'pre-vote' || (m.type === 'pre-vote-resp' && !m.reject)) {
        // A pre-vote does not change terms; a granted pre-vote response carries our future term.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader (e.g. back from a partition) learns our term and steps down.
        this.send({ type: 'append-resp', to: m.from, reject: false, index: 0, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'pre-vote') {
        this.send({ type: 'pre-vote-resp', to: m.from, reject: true });
      }
      return;
    }
    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.handleVoteRequest(m);
      return;
    }
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') this.lastLeaderContact = this.ticks;
    switch (this.role) {
      case 'leader':
        stepLeader(this, m);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
      default:
        assertNever(this.role, 'role');
    }
  }

  private handleVoteRequest(m: Extract<Message, { type: 'vote' | 'pre-vote' }>): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === 'pre-vote' && m.term > this.term) ||
      (m.type === 'vote' && this.cfg.faults.doubleVote && this.lead === null);
    const resp = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    // Raft §5.4.1: grant only to a candidate whose log is at least as up to date as ours.
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send({ type: resp, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: resp, to: m.from, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'pre-vote-resp':
      case 'vote-resp':
        if ((m.type === 'pre-vote-resp') !== (this.role === 'pre-candidate')) return; // a response to another round
        if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject);
        this.tally();
        return;
      case 'read-index':
        this.send({ type: 'read-index-resp', to: m.from, context: m.context, index: 0, reject: true });
        return;
      case 'read-index-resp':
        this.handleReadIndexResp(m);
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeout-now':
        // Dissertation §3.10: start an election at once, without pre-vote, bypassing voters' leases.
        this.campaign('vote', true);
        return;
      case 'read-index':
        this.send({ type: 'read-index-resp', to: m.from, context: m.context, index: 0, reject: true });
        return;
      case 'read-index-resp':
        this.handleReadIndexResp(m);
        return;
      default:
        return;
    }
  }

  // ---- follower side of replication ----

  private handleAppend(m: Extract<Message, { type: 'append' }>): void {
    if (m.prevIndex < this.log.committed) {
      this.send({ type: 'append-resp', to: m.from, reject: false, index: this.log.committed, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const out = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    switch (out.type) {
      case 'ok':
        this.syncConf();
        this.send({ type: 'append-resp', to: m.from, reject: false, index: out.lastNew, hintIndex: 0, hintTerm: 0 });
        return;
      case 'mismatch': {
        // Fast backtracking: point the leader past our whole conflicting term.
        const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
        this.send({ type: 'append-resp', to: m.from, reject: true, index: m.prevIndex, hintIndex: hint.index, hintTerm: hint.term });
        return;
      }
      case 'conflict-below-commit':
        this.dropped++;
        return;
      default:
        assertNever(out, 'append outcome');
    }
  }

  private handleHeartbeat(m: Extract<Message, { type: 'heartbeat' }>): void {
    // The leader sends min(match, commit), so every index up to it matches the leader's log.
    this.log.commitTo(m.commit);
    const ctx = m.context ?? undefined;
    this.send(ctx === undefined ? { type: 'heartbeat-resp', to: m.from } : { type: 'heartbeat-resp', to: m.from, context: ctx });
  }

  private handleSnapshot(m: Extract<Message, { type: 'snapshot' }>): void {
    if (!(m.data instanceof Uint8Array)) {
      this.dropped++; // the driver must attach the bytes before delivering
      return;
    }
    const restored = this.log.restore({ meta: m.meta, data: m.data });
    if (restored) this.syncConf();
    // After a restore our log ends at the snapshot; otherwise only the commit index is known to match.
    const index = restored ? m.meta.index : this.log.committed;
    this.send({ type: 'append-resp', to: m.from, reject: false, index, hintIndex: 0, hintTerm: 0 });
  }

  private handleReadIndexResp(m: Extract<Message, { type: 'read-index-resp' }>): void {
    const f = this.forwarded.get(m.context);
    if (f === undefined || f.to !== m.from) return;
    this.forwarded.delete(m.context);
    if (m.reject) this.failedReads.push(m.context);
    else this.readStates.push({ index: m.index, context: m.context });
  }

  /** Broadcasts what proposals and commit advances queued (one AppendEntries batch per follower). */
  flushBroadcast(): void {
    if (!this.pendingBcast) return;
    this.pendingBcast = false;
    if (this.role === 'leader') bcastAppend(this);
  }

  /** Reads on the leader: queued until an entry of this term commits, then confirmed. */
  leaderRead(context: string, from: NodeId | null): void {
    if (!this.committedInTerm()) this.waitingReads.push({ context, from });
    else serveRead(this, context, from);
  }
}

