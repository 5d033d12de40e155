/**
 * The leader's side of the protocol: replication with flow control (probe / replicate / snapshot),
 * the commit rule, heartbeat rounds, ReadIndex and lease reads, and leadership transfer.
 * Functions over the internal `Raft` state (etcd's stepLeader and friends).
 */
import type { NodeId } from '../common/index.js';
import { isVoter, members } from './conf.js';
import { entrySize } from './log.js';
import { majorityValue } from './quorum.js';
import type { Raft } from './raft.js';
import { parseRoundContext, roundContext } from './read-only.js';
import type { Entry, Message } from './types.js';

type EntryPayload = { readonly type: 'normal'; readonly data: Uint8Array } | { readonly type: 'conf'; readonly change: Extract<Entry, { type: 'conf' }>['change'] } | { readonly type: 'noop' };

/** Sets up progress for every member and appends the new leader's noop entry. */
export function becomeLeaderInit(r: Raft): void {
  r.readOnly.reset();
  const next = r.log.lastIndex() + 1;
  for (const m of members(r.conf)) r.prs.set(m, r.newProgress(next, !isVoter(r.conf, m)));
  const self = r.prs.get(r.id) ?? r.newProgress(next, false);
  r.prs.set(r.id, self);
  // The leader's own entries count toward a commit only once durable (advance()).
  self.match = r.log.stable;
  self.becomeReplicate();
  self.next = next;
  appendEntry(r, { type: 'noop' });
}

/** Appends one entry of the current term to the leader's log; it is broadcast at the next Ready. */
export function appendEntry(r: Raft, payload: EntryPayload): { index: number; term: number } {
  const index = r.log.lastIndex() + 1;
  const term = r.term;
  const entry: Entry = { ...payload, index, term };
  r.log.append([entry]);
  r.uncommittedSize += entrySize(entry);
  r.pendingBcast = true;
  r.syncConf();
  return { index, term };
}

/** Sends every follower what it is missing (and the commit index), as far as flow control allows. */
export function bcastAppend(r: Raft): void {
  for (const id of r.prs.keys()) {
    if (id === r.id) continue;
    if (maybeSendAppend(r, id, true)) while (maybeSendAppend(r, id, false));
  }
}

/**
 * Sends one AppendEntries (or a snapshot when the entries are compacted away) to `to`.
 * Returns true when a message went out. With `sendIfEmpty` false, nothing is sent if there are no entries.
 */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.prs.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined) {
    if (prevIndex > r.log.lastIndex()) return false; // cannot happen: next ≤ lastIndex + 1
    if (!pr.recentActive) return false; // etcd: do not ship a snapshot to a peer we have not heard from
    const meta = r.log.snapshotMeta();
    r.send({ type: 'snapshot', to, meta });
    pr.becomeSnapshot(meta.index);
    return true;
  }
  const entries = pr.next <= r.log.lastIndex() ? r.log.slice(pr.next, r.cfg.maxSizePerMsg) : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  const bytes = entries.reduce((n, e) => n + entrySize(e), 0);
  r.send({ type: 'append', to, prevIndex, prevTerm, entries, commit: r.log.committed });
  pr.sentEntries(entries.length, bytes, prevIndex + entries.length);
  return true;
}

/** Raft §5.4.2: commit the highest index a quorum of voters stores, only if it is of the current term. */
export function maybeCommit(r: Raft): boolean {
  const mci = majorityValue(r.conf.voters, (id) => r.prs.get(id)?.match ?? 0);
  if (mci <= r.log.committed) return false;
  if (r.log.term(mci) !== r.term && !r.cfg.faults.commitPreviousTerm) return false;
  const old = r.log.committed;
  r.log.commitTo(mci);
  for (const e of r.log.between(old, r.log.committed)) if (e.term === r.term) r.uncommittedSize -= entrySize(e);
  if (r.uncommittedSize < 0) r.uncommittedSize = 0;
  r.pendingBcast = true;
  if (r.committedInTerm() && r.waitingReads.length > 0) {
    const waiting = r.waitingReads;
    r.waitingReads = [];
    for (const w of waiting) serveRead(r, w.context, w.from);
  }
  // A leader that removed itself steps down once the removal commits (dissertation §4.2.2).
  if (!isVoter(r.conf, r.id) && r.log.lastConfIndex() <= r.log.committed) {
    r.flushBroadcast(); // let followers learn the commit first
    r.becomeFollower(r.term, null);
  }
  return true;
}

/** Sends a heartbeat round to every peer; the round number rides in the context. */
export function bcastHeartbeat(r: Raft): void {
  const round = r.readOnly.startRound(r.ticks, 2 * r.cfg.electionTicks);
  const context = roundContext(round);
  for (const [id, pr] of r.prs) {
    if (id === r.id) continue;
    // Only up to the follower's match: beyond it the follower's log may still diverge from ours.
    r.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, r.log.committed), context });
  }
}

/**
 * True while the leader lease holds (Raft dissertation §6.4.1): CheckQuorum is on, no TimeoutNow
 * went out this term, and a quorum of voters acknowledged a heartbeat round sent fewer than
 * electionTicks − leaseDriftTicks ticks ago. Each voter of that quorum received the round after it
 * was sent and refuses (pre)votes for electionTicks after that, so no other leader can be elected
 * while the lease holds (the drift ticks absorb tick granularity and clock-rate differences).
 */
export function leaseHeld(r: Raft): boolean {
  if (r.role !== 'leader' || r.timeoutNowSent || !r.cfg.checkQuorum) return false;
  const voters = r.conf.voters;
  if (voters.length === 1 && voters[0] === r.id) return true;
  const t = r.readOnly.quorumAckTick(voters, r.id);
  return t !== undefined && r.ticks - t < r.cfg.electionTicks - r.cfg.leaseDriftTicks;
}

/** True when a read may be served from the lease alone (readOnly 'lease' and the lease holds). */
export function leaseValid(r: Raft): boolean {
  return r.cfg.readOnly === 'lease' && leaseHeld(r);
}

/** Serves a read on a leader that has committed an entry of its term. */
export function serveRead(r: Raft, context: string, from: NodeId | null): void {
  const voters = r.conf.voters;
  if (voters.length === 1 && voters[0] === r.id) {
    r.respondRead(context, from, r.log.committed);
    return;
  }
  if (leaseValid(r)) {
    r.respondRead(context, from, r.log.committed);
    return;
  }
  // Join the round whose heartbeats have not left yet (they leave after this read arrived), or start one.
  if (!r.readOnly.hasUnsentRound()) bcastHeartbeat(r);
  r.readOnly.add({ context, from, index: r.log.committed, round: r.readOnly.currentRound() });
  serveConfirmedReads(r);
}

/** Answers every read a quorum has confirmed. */
export function serveConfirmedReads(r: Raft): void {
  for (const read of r.readOnly.takeConfirmed(r.conf.voters, r.id)) r.respondRead(read.context, read.from, read.index);
}

/** Tells `to` to campaign now; from here on this term's lease is void. */
export function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.timeoutNowSent = true;
  r.send({ type: 'timeout-now', to });
}

/** Handles a message addressed to the leader. */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case 'append-resp':
      handleAppendResp(r, m);
      return;
    case 'heartbeat-resp':
      handleHeartbeatResp(r, m);
      return;
    case 'read-index':
      r.leaderRead(m.context, m.from);
      return;
    default:
      return;
  }
}

function handleAppendResp(r: Raft, m: Extract<Message, { type: 'append-resp' }>): void {
  const pr = r.prs.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.reject) {
    // Fast backtracking: skip the follower's whole conflicting term using its hint.
    const next = m.hintTerm > 0 ? r.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
    if (pr.maybeDecrTo(m.index, next)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      maybeSendAppend(r, m.from, true);
    }
    return;
  }
  if (m.index > r.log.lastIndex()) return; // cannot be a response to this leader's appends
  if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe')) {
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match + 1 >= r.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
    maybeCommit(r);
    if (r.role !== 'leader') return;
    if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
    while (maybeSendAppend(r, m.from, false));
  }
}

function handleHeartbeatResp(r: Raft, m: Extract<Message, { type: 'heartbeat-resp' }>): void {
  const pr = r.prs.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (pr.state === 'probe') {
    pr.paused = false;
  } else if (pr.state === 'replicate' && pr.inflights.full()) {
    // Every AppendEntries in the window may have been lost: an empty append at the window's end
    // either acks the whole window or is rejected and sends us back to probing.
    const prevIndex = pr.next - 1;
    const prevTerm = r.log.term(prevIndex);
    if (prevTerm === undefined) pr.becomeProbe();
    else r.send({ type: 'append', to: m.from, prevIndex, prevTerm, entries: [], commit: Math.min(pr.match, r.log.committed) });
  }
  if (pr.match < r.log.lastIndex() || pr.state === 'probe') maybeSendAppend(r, m.from, true);
  const round = parseRoundContext(m.context ?? undefined);
  if (round !== undefined && isVoter(r.conf, m.from)) {
    r.readOnly.ack(m.from, round);
    serveConfirmedReads(r);
  }
}

/** Starts (or restarts towards a new target) a leadership transfer to voter `to`. */
export function transferLeadership(r: Raft, to: NodeId): void {
  if (r.leadTransferee === to) return;
  r.leadTransferee = to;
  r.electionElapsed = 0; // the transfer is aborted after one election timeout
  const pr = r.prs.get(to);
  if (pr !== undefined && pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
  else maybeSendAppend(r, to, true);
}
