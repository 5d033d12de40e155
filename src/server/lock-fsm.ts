/**
 * Adapts the pure lock state machine to the node's StateMachine port: entries carry an encoded
 * `{ at, cmd }` envelope; apply outputs (result, effects, events) go back to the proposer and to
 * listeners (leader duties, watches). Snapshots are the machine's plain data, msgpack-encoded.
 */
import { decode, encode } from '../common/codec.js';
import type { Logger } from '../common/logger.js';
import { LockStateMachine, type ApplyOutput, type LockCommand, type LockConfig, type LockSnapshot } from '../lock/index.js';
import type { AppliedEntry, StateMachine } from '../node/state-machine.js';

/** What one log entry holds. */
export interface LockEntry {
  /** The leader's wall-clock ms when proposed (informational). */
  readonly at: number;
  readonly cmd: LockCommand;
}

/** Encodes a command for the log, stamped with the proposer's wall clock. */
export function encodeLockEntry(cmd: LockCommand, at = Date.now()): Uint8Array {
  return encode({ at, cmd } satisfies LockEntry);
}

/** Receives every apply's output, in log order, on every node. */
export type ApplyListener = (out: ApplyOutput, entry: { index: number; term: number }) => void;

/** The lock state machine behind the node's StateMachine port. */
export class LockFsm implements StateMachine<ApplyOutput> {
  private machine: LockStateMachine;
  private readonly listeners = new Set<ApplyListener>();
  private lastIndex = 0;

  constructor(
    private readonly config: Partial<LockConfig>,
    private readonly log: Logger,
  ) {
    this.machine = new LockStateMachine(config);
  }

  /** The current machine (replaced on restore: always read it through this getter). */
  get sm(): LockStateMachine {
    return this.machine;
  }

  /** Index of the last applied entry (data or internal). */
  get appliedIndex(): number {
    return this.lastIndex;
  }

  /** Subscribes to apply outputs; returns the unsubscribe function. */
  onApply(l: ApplyListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  apply(entry: AppliedEntry): ApplyOutput {
    this.lastIndex = entry.index;
    let out: ApplyOutput;
    try {
      const { at, cmd } = decode<LockEntry>(entry.data);
      out = this.machine.apply(cmd, { index: entry.index, term: entry.term, at: typeof at === 'number' ? at : 0 });
    } catch (err) {
      // A malformed entry must have the same (no-op) effect on every node.
      this.log.error({ err, index: entry.index }, 'undecodable lock entry; applied as a no-op');
      out = { result: { ok: false, code: 'INVALID_ARGUMENT', message: 'undecodable entry' }, effects: [], events: [] };
    }
    for (const l of this.listeners) {
      try {
        l(out, { index: entry.index, term: entry.term });
      } catch (err) {
        this.log.error({ err }, 'apply listener threw');
      }
    }
    return out;
  }

  applyInternal(entry: { index: number }): void {
    this.lastIndex = entry.index;
  }

  snapshot(): Uint8Array {
    return encode(this.machine.snapshot());
  }

  restore(data: Uint8Array, index: number): void {
    this.machine = LockStateMachine.restore(decode<LockSnapshot>(data));
    this.lastIndex = index;
  }
}
