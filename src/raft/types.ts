/**
 * The data types of the pure Raft core: entries, messages, hard state, snapshots and Ready.
 * Everything here is plain data (no classes), so it can be encoded by msgpackr at the edge.
 */
import type { NodeId } from '../common/ids.js';

/** A node's role. */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** The cluster configuration: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * One membership change. Applied one server at a time (Raft dissertation §4.1): a configuration
 * takes effect as soon as its entry is appended to a log, and is reverted if that entry is truncated.
 */
export type ConfChange =
  | { readonly type: 'add-learner'; readonly node: NodeId; readonly context?: Uint8Array }
  | { readonly type: 'promote'; readonly node: NodeId }
  | { readonly type: 'add-voter'; readonly node: NodeId; readonly context?: Uint8Array }
  | { readonly type: 'remove'; readonly node: NodeId };

/** A log entry. `normal` carries opaque application data; `conf` a membership change; `noop` is a new leader's first entry. */
export type Entry =
  | { readonly type: 'normal'; readonly term: number; readonly index: number; readonly data: Uint8Array }
  | { readonly type: 'conf'; readonly term: number; readonly index: number; readonly change: ConfChange }
  | { readonly type: 'noop'; readonly term: number; readonly index: number };

/** State that must be durable before messages depending on it are sent. */
export interface HardState {
  readonly term: number;
  /** Who this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  /** Highest index known committed (may be persisted lazily; it is recomputed after a restart). */
  readonly commit: number;
}

/** Describes a snapshot: the last index and term it covers and the configuration at that index. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** A snapshot with the state machine's bytes. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** Fields every message has. */
interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** Messages exchanged between Raft nodes. */
export type Message =
  /** PreVote / Vote request (Raft §5.2, dissertation §9.6). `term` is the proposed term for a pre-vote. */
  | (MessageBase & { readonly type: 'pre-vote' | 'vote'; readonly lastIndex: number; readonly lastTerm: number; readonly transfer?: boolean })
  | (MessageBase & { readonly type: 'pre-vote-resp' | 'vote-resp'; readonly reject: boolean })
  /** AppendEntries (Raft §5.3). */
  | (MessageBase & {
      readonly type: 'append';
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly Entry[];
      readonly commit: number;
    })
  /**
   * AppendEntries response. On success `index` is the last index now matching the leader.
   * On reject, `index` is the rejected prevIndex and `hintIndex`/`hintTerm` let the leader
   * skip a whole conflicting term at once (fast backtracking, etcd's findConflictByTerm).
   */
  | (MessageBase & { readonly type: 'append-resp'; readonly reject: boolean; readonly index: number; readonly hintIndex: number; readonly hintTerm: number })
  /**
   * Heartbeat. `context` is opaque to the follower and echoed in the response; the core puts the
   * leader's heartbeat round number there, confirming leadership for ReadIndex and the lease.
   */
  | (MessageBase & { readonly type: 'heartbeat'; readonly commit: number; readonly context?: string })
  | (MessageBase & { readonly type: 'heartbeat-resp'; readonly context?: string })
  /**
   * InstallSnapshot. The core emits it with `meta` only; the driver attaches the stored snapshot
   * bytes (`data`) when sending, streamed in chunks by the transport. Delivered to `step` with `data`.
   */
  | (MessageBase & { readonly type: 'snapshot'; readonly meta: SnapshotMeta; readonly data?: Uint8Array })
  /** Leadership transfer: the target starts an election at once (dissertation §3.10). */
  | (MessageBase & { readonly type: 'timeout-now' })
  /** A follower forwards a ReadIndex request to the leader, and gets the read index back. */
  | (MessageBase & { readonly type: 'read-index'; readonly context: string })
  | (MessageBase & { readonly type: 'read-index-resp'; readonly context: string; readonly index: number; readonly reject: boolean });

/** The `type` tags of Message. */
export type MessageType = Message['type'];

/** A read that is safe to serve once the local applied index reaches `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** Volatile state the application may want to observe (leader and role changes). */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/**
 * Work the driver must do, in this order:
 * 1. Persist `snapshot` (if any), then `entries` (truncating any stored entries at or after
 *    `entries[0].index` first) and `hardState` — atomically and durably (fsync) when `mustSync`.
 * 2. Only after step 1 is durable, send `persistedMessages` (votes, append responses: they
 *    promise something about the durable state).
 * 3. `messages` may be sent at once, before or during step 1 (the leader's AppendEntries to
 *    followers: the leader counts itself toward a commit only after `advance`).
 * 4. Apply `snapshot` (restore) and then `committedEntries` to the state machine, in order.
 *    Without a snapshot, `committedEntries` may be applied during step 1 (they are durable
 *    already); with one, only after it is persisted and restored.
 * 5. Serve `readStates` once the applied index reaches each one's index.
 * 6. Call `advance(ready)`.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly messages: readonly Message[];
  readonly persistedMessages: readonly Message[];
  /** Committed entries to apply, in order; the core hands them out only once they are durable locally. */
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** Contexts of ReadIndex requests that can no longer be served here (leadership lost, rejected); fail them as retryable. */
  readonly failedReads: readonly string[];
  /** True when hardState (term/vote) or entries or snapshot changed and must be fsynced. */
  readonly mustSync: boolean;
}

/** Replication progress of one peer as seen by the leader. */
export interface PeerProgress {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly recentActive: boolean;
  readonly learner: boolean;
  readonly inflight: number;
}

/** A snapshot of the core's state, for status pages and tests. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly confState: ConfState;
  /** Only on the leader. */
  readonly progress?: Readonly<Record<NodeId, PeerProgress>>;
  readonly leadTransferee: NodeId | null;
  /** Messages `step()` dropped: malformed, misaddressed, or contradicting committed entries. */
  readonly droppedMessages?: number;
}

/** Durable state a core starts from (empty on first boot, read from storage after a restart). */
export interface InitialState {
  readonly hardState: HardState;
  /** The latest snapshot's metadata; its index/term is the log's base. */
  readonly snapshot?: SnapshotMeta;
  /** Entries after the snapshot, in index order, contiguous. */
  readonly entries: readonly Entry[];
  /**
   * The bootstrap cluster's configuration. On a first boot (term 0, no snapshot, no entries) the
   * core writes it into the log as committed genesis entries (one `add-voter` per voter, sorted, at
   * term 1 from index 1; the first Ready carries them), identical on every bootstrap node, so a node
   * that joins later learns the initial configuration from the log. A node joining an existing
   * cluster must be started WITHOUT bootstrap (it learns everything from the leader). Otherwise it
   * is the configuration used when there is neither a snapshot nor a conf entry.
   */
  readonly bootstrap?: ConfState;
  /** Index already applied to the state machine (≥ snapshot index); committed entries after it are re-delivered. */
  readonly applied?: number;
}

/** Knobs of the core. Times are in ticks; the driver chooses how long a tick is. */
export interface RaftConfig {
  readonly id: NodeId;
  /** Base election timeout; the effective timeout is randomized in [electionTicks, 2×electionTicks). Default 10. */
  readonly electionTicks?: number;
  /** A follower's election timeout is electionTicks + a random [0, electionJitterTicks). Default electionTicks. */
  readonly electionJitterTicks?: number;
  /** Heartbeat interval. Default 1. */
  readonly heartbeatTicks?: number;
  /** PreVote (dissertation §9.6). Default true. */
  readonly preVote?: boolean;
  /** CheckQuorum: a leader steps down without a quorum of recent contact, and followers with a live leader ignore votes. Default true. */
  readonly checkQuorum?: boolean;
  /** Max AppendEntries in flight per follower. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Max bytes of entry data in one AppendEntries. Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Max bytes of entry data in flight per follower. Default 32 MiB. */
  readonly maxInflightBytes?: number;
  /** 'safe' = ReadIndex with a heartbeat round; 'lease' = serve from the leader lease when valid. Default 'safe'. */
  readonly readOnly?: 'safe' | 'lease';
  /**
   * Ticks subtracted from the election timeout for the leader lease (lease reads, keepalive acks):
   * one for tick granularity, the rest for clock-rate differences. At least 1. Default 2.
   */
  readonly leaseDriftTicks?: number;
  /** Max uncommitted entry bytes a leader accepts before refusing proposals. Default 64 MiB. */
  readonly maxUncommittedBytes?: number;
  /** Test-only: planted bugs for proving the simulator's checks have teeth. Never set in production. */
  readonly testingFaults?: TestingFaults;
}

/** Bugs the simulator's teeth test can plant in the core. */
export interface TestingFaults {
  /** Count entries of a previous term toward commit by replication (violates Raft §5.4.2). */
  readonly commitPreviousTerm?: boolean;
  /** Grant a vote even after voting for someone else in the same term. */
  readonly doubleVote?: boolean;
  /** Send vote responses without waiting for persistence (put them in `messages`). */
  readonly skipVotePersist?: boolean;
}
