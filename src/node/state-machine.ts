/**
 * The application port of a Raft node: what the driver applies committed entries to.
 * `apply` must be deterministic (same entries in the same order → same results on every node).
 */

/** A committed application entry handed to the state machine. */
export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/** A replicated state machine (hashicorp/raft's FSM shape). `R` is what `apply` returns to the proposer. */
export interface StateMachine<R = unknown> {
  /** Applies one committed entry; the result resolves the proposer's promise on this node. */
  apply(entry: AppliedEntry): R;
  /** Called for committed entries the application does not see as data (noop, conf), so it can track the index. */
  applyInternal?(entry: { readonly index: number; readonly term: number; readonly type: 'noop' | 'conf' }): void;
  /** Serializes the whole state (cheap, synchronous: called between two applies). */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's bytes. */
  restore(data: Uint8Array, index: number): void;
}
