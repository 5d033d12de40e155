/**
 * Which endpoint to try next, and how long to wait first (pure; randomness injected).
 *
 * `EndpointSet` is the client-wide knowledge: the configured endpoints, those learned from
 * `latch-leader` hints, and the current leader guess. A `RetryPlan` is one operation's walk over it:
 * the hinted leader first, then the other endpoints round-robin; the first pass over the endpoints
 * (and every hint followed in it) goes without delay, after which each attempt waits an
 * exponential backoff with equal jitter. A success resets the plan.
 */
import type { Rng } from '../common/rng.js';
import { InvalidArgumentError } from './errors.js';
import { isHostPort } from './error-mapping.js';

/** Exponential backoff settings, in milliseconds. */
export interface BackoffPolicy {
  /** The first delay before jitter. */
  readonly initialMs: number;
  /** The largest delay before jitter. */
  readonly maxMs: number;
}

/** The default backoff: 50 ms doubling up to 1 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 50, maxMs: 1000 };

/** Largest number of endpoints learned from hints that the set keeps. */
const MAX_LEARNED = 16;

/** The endpoints of one client and its guess of the leader. */
export class EndpointSet {
  private readonly list: string[];
  private learned = 0;
  private leaderGuess: string | undefined;

  constructor(endpoints: readonly string[]) {
    if (!Array.isArray(endpoints) || endpoints.length === 0) throw new InvalidArgumentError('at least one endpoint is needed');
    const seen = new Set<string>();
    for (const e of endpoints) {
      if (typeof e !== 'string' || !isHostPort(e)) throw new InvalidArgumentError(`endpoint ${JSON.stringify(e)} is not host:port`);
      seen.add(e);
    }
    this.list = [...seen];
  }

  /** Every known endpoint, configured ones first. */
  get endpoints(): readonly string[] {
    return this.list;
  }

  /** The endpoint believed to be the leader, if any. */
  get leader(): string | undefined {
    return this.leaderGuess;
  }

  /** Notes that `endpoint` is (or points at) the leader; adds it when it is new and well-formed. */
  noteLeader(endpoint: string): void {
    if (!isHostPort(endpoint)) return;
    if (!this.list.includes(endpoint)) {
      if (this.learned >= MAX_LEARNED) return;
      this.learned++;
      this.list.push(endpoint);
    }
    this.leaderGuess = endpoint;
  }

  /** Notes that `endpoint` failed; it stops being the leader guess. */
  noteFailure(endpoint: string): void {
    if (this.leaderGuess === endpoint) this.leaderGuess = undefined;
  }
}

/** The next attempt: where, and after how long. */
export interface Attempt {
  readonly endpoint: string;
  readonly delayMs: number;
}

/** One operation's walk over the endpoints (see the file comment). */
export class RetryPlan {
  private cursor: number;
  private hint: string | undefined;
  private failures = 0;
  private backoffSteps = 0;
  /** A server-requested wait before the next attempt (OVERLOADED), consumed by next(). */
  private pendingDelay = 0;

  constructor(
    private readonly set: EndpointSet,
    private readonly backoff: BackoffPolicy,
    private readonly rng: Rng,
  ) {
    if (!(backoff.initialMs > 0) || !(backoff.maxMs >= backoff.initialMs)) {
      throw new InvalidArgumentError(`backoff needs 0 < initialMs <= maxMs (got ${backoff.initialMs}, ${backoff.maxMs})`);
    }
    this.hint = set.leader;
    const start = set.leader === undefined ? -1 : set.endpoints.indexOf(set.leader);
    this.cursor = start >= 0 ? start + 1 : rng.int(set.endpoints.length);
  }

  /** Consecutive failures since the last success. */
  get failureCount(): number {
    return this.failures;
  }

  /** The next endpoint to try and the delay before trying it. */
  next(): Attempt {
    let endpoint: string;
    if (this.hint !== undefined) {
      endpoint = this.hint;
      this.hint = undefined;
    } else {
      const list = this.set.endpoints;
      endpoint = list[this.cursor % list.length] ?? list[0]!;
      this.cursor = (this.cursor + 1) % list.length;
    }
    const backoff = this.failures >= this.set.endpoints.length ? this.nextDelay() : 0;
    const delayMs = Math.max(backoff, this.pendingDelay);
    this.pendingDelay = 0;
    return { endpoint, delayMs };
  }

  /** Records a failed attempt at `endpoint`, with the `latch-leader` hint it carried. */
  failed(endpoint: string, leaderHint?: string): void {
    this.failures++;
    this.set.noteFailure(endpoint);
    if (this.hint === endpoint) this.hint = undefined;
    if (leaderHint !== undefined && leaderHint !== endpoint && isHostPort(leaderHint)) {
      this.set.noteLeader(leaderHint);
      this.hint = leaderHint;
    }
  }

  /**
   * `endpoint` is the leader but too busy (OVERLOADED): the next attempt goes to it again after
   * `retryAfterMs`, not to another node (which would only redirect back).
   */
  busy(endpoint: string, retryAfterMs: number): void {
    this.hint = endpoint;
    this.pendingDelay = Math.max(this.pendingDelay, retryAfterMs);
  }

  /** Records a success at `endpoint`; `isLeader` when only the leader could have served it. */
  succeeded(endpoint: string, isLeader: boolean): void {
    this.failures = 0;
    this.backoffSteps = 0;
    if (isLeader) this.set.noteLeader(endpoint);
    this.hint = this.set.leader;
  }

  private nextDelay(): number {
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.backoffSteps, 30));
    this.backoffSteps++;
    return base / 2 + this.rng.next() * (base / 2);
  }
}
