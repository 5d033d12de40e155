/** The options and events of a Session, and their validation. */
import { InvalidArgumentError, type SessionExpiredError } from './errors.js';
import type { LockMode, Value } from './types.js';

/** Options of `LatchClient.session`. */
export interface SessionOptions {
  /** Requested TTL in ms; the server clamps it to its [min, max]. Default: the server's default. */
  readonly ttlMs?: number;
  /** A name for operators (shown by `latch sessions`); default the client's name. */
  readonly name?: string;
  /** Free-form labels for operators. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Subtracted from the TTL for the local lease; default 5 % of the TTL, at least 50 ms. */
  readonly driftMarginMs?: number;
  /** How long to keep trying after the local lease ran out; default the TTL. */
  readonly graceMs?: number;
  /** Keepalive period; default TTL / 3. */
  readonly keepAliveIntervalMs?: number;
}

/** Options of `Session.lock`. */
export interface LockOptions {
  /** `exclusive` (default) or `shared`. */
  readonly mode?: LockMode;
  /** How long to wait for the lock, in ms; default `Infinity`. `0` tries once. */
  readonly waitMs?: number;
  /** An optional value (≤ 4 KiB) stored with the lock. */
  readonly value?: Value;
  /** Abandons the wait: the promise rejects with the signal's reason (a late grant is released). */
  readonly signal?: AbortSignal;
}

/** Options of `Session.tryLock`. */
export type TryLockOptions = Omit<LockOptions, 'waitMs' | 'signal'>;

/** A session state change, as delivered to `Session.on` listeners. */
export type SessionEvent =
  | { readonly type: 'jeopardy'; readonly sessionId: bigint; readonly graceMs: number }
  | { readonly type: 'safe'; readonly sessionId: bigint }
  /** `cause`: the server said the session is gone, or no keepalive was answered through the grace period. */
  | { readonly type: 'expired'; readonly sessionId: bigint; readonly error: SessionExpiredError; readonly cause: 'server' | 'grace-ended' };

/** A validated wait in whole ms (or Infinity); throws InvalidArgumentError. */
export function checkWait(waitMs: unknown): number {
  if (waitMs === Infinity) return Infinity;
  if (typeof waitMs !== 'number' || !Number.isFinite(waitMs) || waitMs < 0) {
    throw new InvalidArgumentError(`waitMs must be a non-negative number of ms or Infinity, got ${String(waitMs)}`);
  }
  return Math.floor(waitMs);
}

/** Validated session metadata (strings only); throws InvalidArgumentError. */
export function checkMetadata(md: unknown): Record<string, string> {
  if (md === undefined) return {};
  if (typeof md !== 'object' || md === null) throw new InvalidArgumentError('metadata must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`metadata ${k} must be a string`);
    out[k] = v;
  }
  return out;
}
