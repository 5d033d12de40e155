/**
 * The simulator's safety checks, updated incrementally as nodes hand out Readies and apply:
 * election safety, log matching, leader completeness, state machine safety and read freshness
 * (Raft §5.2, §5.3, §5.4, dissertation §6.4).
 */
import type { Entry } from '../../src/raft/index.js';
import { entryKey, type ShadowLog } from './shadow-log.js';

/** One broken property. */
export interface Violation {
  readonly kind: 'election-safety' | 'log-matching' | 'leader-completeness' | 'state-machine-safety' | 'stale-read' | 'leader-lease' | 'liveness' | 'internal';
  readonly at: number;
  readonly detail: string;
}

interface CommittedEntry {
  readonly term: number;
  readonly key: number;
  /** The lowest term in which some node learned this entry was committed. */
  commitTerm: number;
}

/** Accumulates violations; every `on…` hook is called by the simulation as things happen. */
export class Checker {
  readonly violations: Violation[] = [];
  now = 0;
  /** term → the node that led it. */
  private readonly leaders = new Map<number, string>();
  /** Nodes currently acting as leader, with their term and log. */
  private readonly acting = new Map<string, { term: number; log: ShadowLog }>();
  /** "index:term" → (content key, previous entry's term): log matching by induction. */
  private readonly logEntries = new Map<string, { key: number; prevTerm: number }>();
  private readonly committed = new Map<number, CommittedEntry>();
  /** State-machine hash after applying index i, as first seen. */
  private readonly hashAt = new Map<number, number>();
  /** Highest log index of a write acknowledged to its client. */
  private maxAcked = 0;
  private readonly readStarts = new Map<string, number>();
  /** Counters for coverage reports. */
  readonly stats = { elections: 0, commits: 0, applies: 0, readsServed: 0, acked: 0, leaseChecks: 0 };

  /** Records a violation (once per kind and detail). */
  fail(kind: Violation['kind'], detail: string): void {
    if (this.violations.length < 20) this.violations.push({ kind, at: this.now, detail });
  }

  /** `node` acts as leader of `term` with log `log` (its Ready carried role = leader). */
  onLeader(node: string, term: number, log: ShadowLog): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== node) this.fail('election-safety', `term ${term} has two leaders: ${prev} and ${node}`);
    if (prev === undefined) {
      this.leaders.set(term, node);
      this.stats.elections++;
    }
    this.acting.set(node, { term, log });
    // Raft §5.4: every entry committed in an earlier term is in this leader's log.
    for (const [i, c] of this.committed) {
      if (c.commitTerm >= term || i <= log.snapIndex) continue;
      const t = log.term(i);
      if (t !== c.term) {
        this.fail('leader-completeness', `leader ${node} of term ${term} has term ${String(t)} at ${i}, committed with term ${c.term} in term ${c.commitTerm}`);
      }
    }
  }

  /**
   * The leader lease (what keepalive acks rely on): while a node's core says it holds the lease,
   * no other node may be leader of a later term. `nodes`: every live node's view right now.
   */
  onLeaseViews(nodes: readonly { readonly id: string; readonly lease: boolean; readonly leader: boolean; readonly term: number }[]): void {
    for (const n of nodes) {
      if (!n.lease) continue;
      this.stats.leaseChecks++;
      for (const m of nodes) {
        if (m.id !== n.id && m.leader && m.term > n.term) {
          this.fail('leader-lease', `${n.id} holds the leader lease of term ${n.term} while ${m.id} leads term ${m.term}`);
        }
      }
    }
  }

  /** `node` stopped acting as leader (role change or crash). */
  onNotLeader(node: string): void {
    this.acting.delete(node);
  }

  /** `entries` are about to be written to `node`'s log `log` (truncating at entries[0].index). */
  onEntries(node: string, log: ShadowLog, entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index > log.lastIndex() + 1) {
      this.fail('log-matching', `${node} got entries from ${first.index} but its log ends at ${log.lastIndex()}`);
      return;
    }
    let prevTerm = first.index - 1 <= log.snapIndex ? (first.index - 1 === log.snapIndex ? log.snapTerm : undefined) : log.term(first.index - 1);
    for (const e of entries) {
      if (e.index <= log.snapIndex) {
        prevTerm = e.index === log.snapIndex ? log.snapTerm : undefined;
        continue;
      }
      const key = entryKey(e);
      if (prevTerm !== undefined) {
        if (e.term < prevTerm) this.fail('log-matching', `${node}: term goes down at ${e.index} (${prevTerm} → ${e.term})`);
        const id = `${e.index}:${e.term}`;
        const seen = this.logEntries.get(id);
        if (seen === undefined) this.logEntries.set(id, { key, prevTerm });
        else if (seen.key !== key || seen.prevTerm !== prevTerm) {
          this.fail('log-matching', `${node}: entry ${id} differs from another log's (content or previous term ${seen.prevTerm} vs ${prevTerm})`);
        }
      }
      prevTerm = e.term;
    }
  }

  /** `node`, in term `term`, reports commit index `commit` over its log `log`; `from` = last commit it reported. */
  onCommit(node: string, term: number, from: number, commit: number, log: ShadowLog): void {
    if (commit > log.lastIndex()) this.fail('state-machine-safety', `${node} commit ${commit} beyond its last index ${log.lastIndex()}`);
    for (let i = Math.max(from + 1, log.snapIndex + 1); i <= Math.min(commit, log.lastIndex()); i++) {
      const e = log.entry(i);
      if (e === undefined) continue;
      const key = entryKey(e);
      const c = this.committed.get(i);
      if (c === undefined) {
        this.committed.set(i, { term: e.term, key, commitTerm: term });
        this.stats.commits++;
      } else if (c.term !== e.term || c.key !== key) {
        this.fail('state-machine-safety', `${node} committed (${i}, term ${e.term}) but (${i}, term ${c.term}) was committed before`);
        continue;
      } else if (term < c.commitTerm) {
        c.commitTerm = term;
      }
      for (const [leader, l] of this.acting) {
        if (l.term <= term || i <= l.log.snapIndex) continue;
        if (l.log.term(i) !== e.term) {
          this.fail('leader-completeness', `entry (${i}, term ${e.term}) committed in term ${term} is missing from leader ${leader} of term ${l.term}`);
        }
      }
    }
  }

  /** `node` applied index `index`, reaching state hash `hash`. */
  onApply(node: string, index: number, hash: number): void {
    this.stats.applies++;
    const h = this.hashAt.get(index);
    if (h === undefined) this.hashAt.set(index, hash);
    else if (h !== hash) this.fail('state-machine-safety', `${node} applied a different entry (or history) at ${index}`);
  }

  /** `node` restored a snapshot at `index` whose state hash is `hash`. */
  onRestore(node: string, index: number, hash: number): void {
    const h = this.hashAt.get(index);
    if (h === undefined) this.hashAt.set(index, hash);
    else if (h !== hash) this.fail('state-machine-safety', `${node} restored a snapshot at ${index} with a different state`);
  }

  /** A client learned its write at `index` took effect. */
  onAck(index: number): void {
    this.stats.acked++;
    if (index > this.maxAcked) this.maxAcked = index;
  }

  /** A read with `context` began now. */
  onReadStart(context: string): void {
    this.readStarts.set(context, this.maxAcked);
  }

  /** The read `context` was answered with read index `index` on `node`. */
  onReadState(node: string, context: string, index: number): void {
    const need = this.readStarts.get(context);
    if (need === undefined) {
      this.fail('stale-read', `${node} answered read ${context} that is not pending`);
      return;
    }
    this.readStarts.delete(context);
    this.stats.readsServed++;
    if (index < need) this.fail('stale-read', `${node} read ${context} at index ${index}, but a write at ${need} was acknowledged before the read began`);
  }

  /** The read `context` failed (retryable); forget it. */
  onReadFailed(context: string): void {
    this.readStarts.delete(context);
  }
}
