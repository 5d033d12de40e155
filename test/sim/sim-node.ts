/**
 * One simulated server: a RaftCore, its durable storage (only what a Ready persisted survives a
 * crash), the simulator's copy of its log, and a tiny state machine (a running hash of applied
 * entries, so two nodes' states compare in O(1)).
 */
import { SeededRng } from '../../src/common/index.js';
import { RaftCore } from '../../src/raft/index.js';
import type { ConfState, Entry, HardState, RaftConfig, Ready, Snapshot } from '../../src/raft/index.js';
import { ShadowLog, entryKey, mixHash } from './shadow-log.js';

/** What survives a crash: written only by a completed persist. */
export interface Durable {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

/** The state machine's contents: applied index and a hash of the applied history. */
export interface SmState {
  applied: number;
  hash: number;
}

/** Encodes a state machine snapshot. */
export function encodeSm(sm: SmState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(sm));
}

/** Decodes a state machine snapshot. */
export function decodeSm(data: Uint8Array): SmState {
  const v = JSON.parse(new TextDecoder().decode(data)) as SmState;
  return { applied: v.applied, hash: v.hash };
}

/** A simulated node (one id, possibly many incarnations). */
export class SimNode {
  /** Incarnation; events of an older one are ignored. */
  gen = 0;
  up = false;
  /** Removed from the cluster and shut down for good. */
  retired = false;
  core: RaftCore | undefined;
  readonly durable: Durable = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: undefined, entries: [] };
  log = new ShadowLog();
  sm: SmState = { applied: 0, hash: 0 };
  outstanding: Ready | undefined;
  /** Last commit index the checker saw from this incarnation. */
  lastCommit = 0;
  leader = false;
  /** Term from the last Ready's hard state. */
  term = 0;
  /** Writes this node proposed as leader: index → (term, write id). */
  readonly proposals = new Map<number, { term: number; id: number }>();

  constructor(
    readonly id: string,
    private readonly config: Omit<RaftConfig, 'id'>,
    private readonly bootstrap: ConfState | undefined,
  ) {}

  /** Starts an incarnation from durable state only. */
  start(seed: number): void {
    this.gen++;
    this.up = true;
    this.outstanding = undefined;
    this.leader = false;
    this.proposals.clear();
    const d = this.durable;
    const snap = d.snapshot;
    this.sm = snap ? decodeSm(snap.data) : { applied: 0, hash: 0 };
    this.log = ShadowLog.from(snap?.meta.index ?? 0, snap?.meta.term ?? 0, d.entries);
    this.lastCommit = Math.max(d.hardState.commit, snap?.meta.index ?? 0);
    this.term = d.hardState.term;
    this.core = new RaftCore(
      { ...this.config, id: this.id },
      {
        hardState: d.hardState,
        ...(snap ? { snapshot: snap.meta } : {}),
        entries: [...d.entries],
        ...(this.bootstrap ? { bootstrap: this.bootstrap } : {}),
        applied: this.sm.applied,
      },
      new SeededRng(seed),
    );
  }

  /** Loses everything not durable. */
  crash(): void {
    this.up = false;
    this.core = undefined;
    this.outstanding = undefined;
    this.leader = false;
    this.proposals.clear();
    this.gen++;
  }

  /** Persists one Ready (atomically), following the RaftStorage contract. Returns an error text on a contract breach. */
  persist(rd: Ready): string | undefined {
    const d = this.durable;
    if (rd.snapshot) {
      d.snapshot = rd.snapshot;
      d.entries = [];
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      const base = d.snapshot?.meta.index ?? 0;
      const last = base + d.entries.length;
      if (first.index > last + 1) return `storage gap: entries from ${first.index} after ${last}`;
      d.entries = d.entries.filter((e) => e.index < first.index);
      for (const e of rd.entries) if (e.index > base) d.entries.push(e);
    }
    if (rd.hardState) d.hardState = rd.hardState;
    return undefined;
  }

  /** Applies one committed entry to the state machine; returns the new hash, or an error text. */
  apply(e: Entry): number | string {
    if (e.index !== this.sm.applied + 1) return `${this.id} applied ${e.index} after ${this.sm.applied}`;
    this.sm = { applied: e.index, hash: mixHash(this.sm.hash, e.index, e.term, entryKey(e)) };
    return this.sm.hash;
  }

  /** Takes a local snapshot at the applied index and compacts log and storage. */
  compact(): void {
    const core = this.core;
    if (!core) return;
    const meta = core.compact(this.sm.applied);
    const d = this.durable;
    d.snapshot = { meta, data: encodeSm(this.sm) };
    d.entries = d.entries.filter((e) => e.index > meta.index);
    this.log.compact(meta.index, meta.term);
  }
}
