/**
 * The shapes every part of the benchmark shares: the systems and workloads it knows, the one
 * driver interface all three lock services are driven through, and the figures it reports.
 */

/** The systems the harness can drive, in report column order. */
export const SYSTEM_IDS = ['latch', 'etcd', 'zk'] as const;

/** One of the systems the harness can drive. */
export type SystemId = (typeof SYSTEM_IDS)[number];

/** The workloads of issue 6, in run order. */
export const WORKLOAD_IDS = ['uncontended', 'contended', 'failover', 'sessions'] as const;

/** One of the workloads. */
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

/** Human names of the systems, for tables and progress lines. */
export const SYSTEM_LABELS: Readonly<Record<SystemId, string>> = { latch: 'Latch', etcd: 'etcd', zk: 'ZooKeeper' };

/** Per-call options of `LockClient.acquire`. */
export interface AcquireOptions {
  /** Give up (reject) after this many ms; default: wait as long as it takes. */
  readonly timeoutMs?: number;
}

/**
 * One load-generator client of a lock service: its own connection and its own session (Latch
 * session, etcd lease, ZooKeeper session). `H` is the driver's handle for one held lock.
 * Invariant: `release(h)` is called at most once per handle returned by `acquire`.
 */
export interface LockClient<H> {
  /** Blocks until `name` is held by this client (or rejects on error / timeout). */
  acquire(name: string, opts?: AcquireOptions): Promise<H>;
  /** Gives the lock back. */
  release(handle: H): Promise<void>;
  /** Closes the session and the connection. Never rejects. */
  close(): Promise<void>;
}

/** What `Cluster.killLeader` did. */
export interface KilledNode {
  readonly id: string;
  readonly pid: number;
  /** `performance.now()` just before the SIGKILL was sent. */
  readonly killedAt: number;
}

/**
 * A running 3-node cluster of one system on 127.0.0.1. Every process it started is stopped by
 * PID in `stop()` (which never rejects and may be called more than once).
 */
export interface Cluster {
  readonly system: SystemId;
  /** Client endpoints, `host:port`. */
  readonly endpoints: readonly string[];
  /** One line on the timing and durability settings, for the report. */
  readonly settings: string;
  /** The current leader's node id and PID (waits for one). */
  leader(timeoutMs?: number): Promise<{ readonly id: string; readonly pid: number }>;
  /** SIGKILLs the leader and waits for the process to exit. */
  killLeader(): Promise<KilledNode>;
  /** Restarts a killed node from its data dir and waits until the cluster is whole again. */
  restart(id: string): Promise<void>;
  /** PIDs of every running node. */
  pids(): number[];
  /** Keepalives served so far, counted on the servers, summed over running nodes (if the system exposes it). */
  serverKeepalives?(): Promise<number>;
  stop(): Promise<void>;
}

/** Counters a session holder keeps while it holds sessions open. */
export interface SessionCounters {
  /** Sessions opened so far. */
  opened: number;
  /** Keepalives acknowledged by the service (for ZooKeeper: pings sent, see zk-sessions.ts). */
  keepalives: number;
  /** Sessions the client saw expire or lost (spurious: the client never stopped keeping them alive). */
  expiries: number;
  /** Errors while opening sessions. */
  openErrors: number;
  /** The first open error and the first expiry's cause, for the report's notes. */
  firstOpenError?: string;
  firstExpiry?: string;
}

/** A set of sessions held open by keepalive; `close()` never rejects. */
export interface HeldSessions {
  close(): Promise<void>;
}

/** One system's way of holding many sessions (runs inside a session-holder child process). */
export type SessionOpener = (
  endpoints: readonly string[],
  count: number,
  ttlMs: number,
  counters: SessionCounters,
  signal: AbortSignal,
) => Promise<HeldSessions>;

/** Which way is better for a figure. */
export type Better = 'higher' | 'lower' | 'zero';

/** One reported figure of one workload for one system. */
export interface Figure {
  /** Stable key, e.g. `cycles_per_s`. */
  readonly key: string;
  /** Label in the table, e.g. `cycles/s`. */
  readonly label: string;
  readonly better: Better;
  /** The value; `null` when the system could not produce it (the note says why). */
  readonly value: number | null;
  /** Unit shown after the value, e.g. `ms`. */
  readonly unit?: string;
}

/** The outcome of one workload variant (e.g. `uncontended C=16`) for one system. */
export type SystemOutcome =
  | { readonly type: 'ok'; readonly figures: readonly Figure[]; readonly notes?: readonly string[] }
  | { readonly type: 'skipped'; readonly reason: string }
  | { readonly type: 'failed'; readonly error: string };

/** All systems' outcomes of one workload variant. */
export interface VariantResult {
  readonly workload: WorkloadId;
  /** e.g. `uncontended C=16`. */
  readonly title: string;
  readonly params: Readonly<Record<string, number | string>>;
  readonly outcomes: Partial<Record<SystemId, SystemOutcome>>;
}
