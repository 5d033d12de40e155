/** Test driver for the lock state machine: numbers entries, stamps times, tracks request seqs. */
import { LockStateMachine } from '../../src/lock/index.js';
import type { ApplyOutput, LockCommand, LockConfig, LockMode, LockResult } from '../../src/lock/index.js';

export class Harness {
  m: LockStateMachine;
  index = 0;
  at = 1_700_000_000_000;
  private readonly seqs = new Map<number, number>();

  constructor(config: Partial<LockConfig> = {}, m?: LockStateMachine) {
    this.m = m ?? new LockStateMachine(config);
    this.index = this.m.appliedIndex;
  }

  /** Applies `cmd` at the next index (or `gap` indexes later). */
  apply(cmd: LockCommand, gap = 1): ApplyOutput {
    this.index += gap;
    this.at += 7;
    return this.m.apply(cmd, { index: this.index, term: 1, at: this.at });
  }

  /** Applies something that is not a valid command (the type system would refuse it). */
  applyRaw(cmd: unknown): ApplyOutput {
    this.index += 1;
    return this.m.apply(cmd as LockCommand, { index: this.index, term: 1, at: this.at });
  }

  nextSeq(sid: number): number {
    const n = (this.seqs.get(sid) ?? 0) + 1;
    this.seqs.set(sid, n);
    return n;
  }

  lastSeq(sid: number): number {
    return this.seqs.get(sid) ?? 0;
  }

  open(ttlMs = 10_000, client = 'test-client'): number {
    const out = this.apply({ type: 'open-session', ttlMs, client });
    if (!out.result.ok || out.result.type !== 'open-session') throw new Error(`open failed: ${JSON.stringify(out.result)}`);
    return out.result.sessionId;
  }

  acquire(sid: number, name: string, mode: LockMode = 'exclusive', waitMs = 0, value?: Uint8Array): ApplyOutput {
    const base = { type: 'acquire' as const, sessionId: sid, seq: this.nextSeq(sid), name, mode, waitMs };
    return this.apply(value === undefined ? base : { ...base, value });
  }

  release(sid: number, name: string): ApplyOutput {
    return this.apply({ type: 'release', sessionId: sid, seq: this.nextSeq(sid), name });
  }

  close(sid: number): ApplyOutput {
    return this.apply({ type: 'close-session', sessionId: sid, seq: this.nextSeq(sid) });
  }

  expire(sid: number, lockDelayMs = 0): ApplyOutput {
    return this.apply({ type: 'expire-session', sessionId: sid, lockDelayMs });
  }

  setValue(sid: number, name: string, value: Uint8Array): ApplyOutput {
    return this.apply({ type: 'set-value', sessionId: sid, seq: this.nextSeq(sid), name, value });
  }
}

/** The token of a granted acquire result, or throws. */
export function tokenOf(r: LockResult): number {
  if (r.ok && r.type === 'acquire' && r.status === 'granted') return r.token;
  throw new Error(`not granted: ${JSON.stringify(r)}`);
}

/** The waiter id of a queued acquire result, or throws. */
export function waiterOf(r: LockResult): number {
  if (r.ok && r.type === 'acquire' && r.status === 'queued') return r.waiterId;
  throw new Error(`not queued: ${JSON.stringify(r)}`);
}

/** The error code of a failed result, or 'ok'. */
export function codeOf(r: LockResult): string {
  return r.ok ? 'ok' : r.code;
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
