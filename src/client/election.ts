/**
 * An election (DESIGN §4): a campaign is an acquisition of the lock `election/<name>` carrying the
 * candidate's value; the leader is its holder. Winning gives a Lock, whose signal says when the
 * leadership may be lost, exactly as for any lock of the session.
 */
import { LockHeldError } from './errors.js';
import { checkLockName, electionLockName } from './names.js';
import type { Lock } from './lock.js';
import type { LeaderInfo, Value } from './types.js';

/** What an Election needs from its session. Internal to the SDK. */
export interface ElectionHost {
  campaign(election: string, value: Value, waitMs: number, signal: AbortSignal | undefined): Promise<Lock | null>;
  resign(election: string): Promise<void>;
  proclaim(election: string, value: Value): Promise<void>;
  leader(election: string): Promise<LeaderInfo | null>;
  observe(election: string, signal: AbortSignal | undefined): AsyncIterableIterator<LeaderInfo | null>;
  leadership(election: string): Lock | undefined;
}

/** Options of `Election.campaign`. */
export interface CampaignOptions {
  /** How long to wait to become leader, in ms; default `Infinity`. `0` tries once. */
  readonly waitMs?: number;
  /** Abandons the campaign: the promise rejects with the signal's reason (a late win is resigned). */
  readonly signal?: AbortSignal;
}

/** Options of `Election.observe`. */
export interface ObserveOptions {
  /** Ends the iteration; the pending `next()` rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** One election as seen by one session. Made by `Session.election(name)`. */
export class Election {
  /** The name of the lock behind this election. */
  readonly lockName: string;

  /** Internal: made by Session. */
  constructor(
    private readonly host: ElectionHost,
    /** The election's name. */
    readonly name: string,
    /** The id of the session campaigning. */
    readonly sessionId: bigint,
  ) {
    this.lockName = electionLockName(name);
    checkLockName(this.lockName);
  }

  /**
   * Campaigns with `value` and resolves once this session leads, with the leadership as a Lock
   * (release it, or call `resign`, to step down). Rejects with WaitTimeoutError when `waitMs`
   * passes first, or LockHeldError when `waitMs` is 0 and someone else leads.
   */
  async campaign(value: Value, opts: CampaignOptions = {}): Promise<Lock> {
    const lock = await this.host.campaign(this.name, value, opts.waitMs ?? Infinity, opts.signal);
    if (lock === null) throw new LockHeldError(`election ${this.name} has another leader`);
    return lock;
  }

  /** Replaces the leader's value; rejects with NotHolderError unless this session leads. */
  async proclaim(value: Value): Promise<void> {
    await this.host.proclaim(this.name, value);
  }

  /** Steps down (or leaves the queue of candidates); a no-op when this session does not lead. */
  async resign(): Promise<void> {
    await this.host.resign(this.name);
  }

  /** The current leader, or null when there is none. */
  async leader(): Promise<LeaderInfo | null> {
    return this.host.leader(this.name);
  }

  /** This session's leadership, while it holds it. */
  get leadership(): Lock | undefined {
    const l = this.host.leadership(this.name);
    return l?.held ? l : undefined;
  }

  /** The current leader (null when none), then every change, one item each; survives node failures. */
  observe(opts: ObserveOptions = {}): AsyncIterableIterator<LeaderInfo | null> {
    return this.host.observe(this.name, opts.signal);
  }
}
