/**
 * The pure Chubby-style lock state machine (DESIGN §4), in rabbitmq/ra's shape:
 * `apply(command, { index, term, at }) -> { result, effects, events }`.
 *
 * Deterministic: no clock, timers or randomness; every time-based transition (expiry, end of
 * lock-delay, wait deadline) is a command the leader proposes. A malformed command yields an
 * `INVALID_ARGUMENT` result and changes nothing; `apply` never throws.
 *
 * Fencing tokens (Chubby §2.4) are the index of the entry whose apply granted the lock, so a token is
 * greater than every token issued by an earlier entry; the holders granted together by one entry
 * (a shared group, or locks freed by one close) share that entry's index.
 */
import { assertNever, type ErrorCode } from '../common/index.js';
import { applyMetaProblem, parseLockCommand } from './commands.js';
import { resolveLockConfig } from './config.js';
import { EventRing } from './event-ring.js';
import { copyBytes, type HolderRec, type LockRec, type MachineState, type SessionRec, type WaiterRec } from './records.js';
import { snapshotToState, stateToSnapshot, type LockSnapshot } from './snapshot.js';
import type {
  AcquireCommand,
  ApplyMeta,
  ApplyOutput,
  EventsSinceResult,
  LockCommand,
  LockConfig,
  LockEffect,
  LockEvent,
  LockEventType,
  LockFailure,
  LockInfo,
  LockMode,
  LockResult,
  Sequencer,
  SessionEndReason,
  SessionInfo,
  SessionLease,
  SessionMeta,
} from './types.js';
import { assertLockPrefix, describeInput, isLockName, lockPrefixProblem } from './validate.js';

interface Tx {
  readonly meta: ApplyMeta;
  readonly effects: LockEffect[];
  readonly events: LockEvent[];
}

interface EventBody {
  readonly type: LockEventType;
  readonly sessionId: number;
  readonly name?: string;
  readonly token?: number;
  readonly mode?: LockMode | null;
}

/**
 * Why `caller` may not use session `s`, or undefined if it may: a session with an owner is used
 * only by that identity; one without (opened without authentication) by anyone.
 */
export function sessionAccessProblem(s: { readonly id: number; readonly owner: string }, caller: string | undefined): string | undefined {
  if (s.owner === '' || caller === s.owner) return undefined;
  return `session ${s.id} was opened by another identity; only the identity that opened a session may use it`;
}

function fail(code: ErrorCode, message: string): LockFailure {
  return { ok: false, code, message };
}

const asc = (a: number, b: number): number => a - b;
const q = (name: string): string => JSON.stringify(name);

/** The replicated lock service state: sessions, locks, holders, FIFO waiters, lock-delays, events. */
export class LockStateMachine {
  private st: MachineState;

  /** A fresh, empty machine. Throws ConfigError on an invalid config (it must match on every node). */
  constructor(config: Partial<LockConfig> = {}) {
    const c = resolveLockConfig(config);
    this.st = {
      config: c,
      applied: 0,
      lastToken: 0,
      sessions: new Map(),
      locks: new Map(),
      waiters: new Map(),
      ended: new Map(),
      ring: new EventRing(c.eventRingSize),
    };
  }

  /** Rebuilds a machine identical to the one that produced `s`; throws LatchError INVALID_ARGUMENT on a corrupt snapshot. */
  static restore(s: LockSnapshot): LockStateMachine {
    const st = snapshotToState(s);
    const m = new LockStateMachine(st.config);
    m.st = st;
    return m;
  }

  /** The tuning this machine runs with. */
  get config(): LockConfig {
    return this.st.config;
  }

  /** Index of the last entry applied (0 before any). */
  get appliedIndex(): number {
    return this.st.applied;
  }

  /** The highest fencing token issued so far (0 before any grant). */
  get lastToken(): number {
    return this.st.lastToken;
  }

  /** Plain data of everything (see LockSnapshot); `restore(snapshot())` behaves identically. */
  snapshot(): LockSnapshot {
    return stateToSnapshot(this.st);
  }

  /**
   * Applies one committed command. `meta.index` must exceed the last applied index (entries the
   * machine does not see, such as Raft no-ops, may leave gaps). Never throws.
   */
  apply(command: LockCommand, meta: ApplyMeta): ApplyOutput {
    const mp = applyMetaProblem(meta, this.st.applied);
    if (mp !== undefined) return { result: fail('INVALID_ARGUMENT', mp), effects: [], events: [] };
    const parsed = parseLockCommand(command);
    if (!parsed.ok) return { result: fail('INVALID_ARGUMENT', parsed.message), effects: [], events: [] };
    const tx: Tx = { meta: { index: meta.index, term: meta.term, at: meta.at }, effects: [], events: [] };
    this.st.applied = meta.index;
    const result = this.dispatch(parsed.command, tx);
    return { result, effects: tx.effects, events: tx.events };
  }

  private dispatch(c: LockCommand, tx: Tx): LockResult {
    switch (c.type) {
      case 'open-session':
        return this.openSession(c.ttlMs, c.client, c.meta, c.owner ?? '', tx);
      case 'close-session':
        return this.clientRequest(c.sessionId, c.seq, c.caller, true, (s) => this.closeSession(s, c.seq, tx));
      case 'expire-session': {
        const s = this.st.sessions.get(c.sessionId);
        if (s === undefined) return this.noSession(c.sessionId, null, false);
        const released = this.endSession(s, 'expired', c.lockDelayMs, tx);
        this.remember(s.id, 'expired', tx, null, null);
        return { ok: true, type: 'expire-session', sessionId: s.id, released };
      }
      case 'expire-sessions': {
        // Sessions ended between proposal and commit (or listed twice) are skipped.
        const doomed = [...new Set(c.sessionIds)].map((id) => this.st.sessions.get(id)).filter((s): s is SessionRec => s !== undefined);
        // First every listed session stops waiting, so no lock freed below is granted to a session
        // this same entry expires; then each ends as by expire-session.
        const touched = new Set<string>();
        for (const s of doomed) for (const name of this.dropWaits(s, 'SESSION_EXPIRED', tx)) touched.add(name);
        for (const s of doomed) {
          this.endSession(s, 'expired', c.lockDelayMs, tx);
          this.remember(s.id, 'expired', tx, null, null);
        }
        for (const name of [...touched].sort()) this.settle(name, tx);
        return { ok: true, type: 'expire-sessions', expired: doomed.map((s) => s.id) };
      }
      case 'checkpoint-sessions': {
        let updated = 0;
        for (const [id, remainingMs] of c.sessions) {
          const s = this.st.sessions.get(id);
          if (s === undefined) continue; // ended between proposal and commit
          s.lapsed = true;
          s.remainingMs = Math.min(remainingMs, s.ttlMs);
          s.checkpointIndex = tx.meta.index;
          updated++;
        }
        return { ok: true, type: 'checkpoint-sessions', updated };
      }
      case 'renew-session': {
        const s = this.st.sessions.get(c.sessionId);
        if (s === undefined) return this.noSession(c.sessionId, null, false);
        const wasLapsed = s.lapsed;
        s.lapsed = false;
        s.remainingMs = null;
        s.checkpointIndex = null;
        return { ok: true, type: 'renew-session', sessionId: s.id, wasLapsed };
      }
      case 'acquire':
        return this.clientRequest(c.sessionId, c.seq, c.caller, false, (s) => this.acquire(s, c, tx));
      case 'release':
        return this.clientRequest(c.sessionId, c.seq, c.caller, false, (s) => this.release(s, c.name, tx));
      case 'set-value':
        return this.clientRequest(c.sessionId, c.seq, c.caller, false, (s) => {
          const lock = this.st.locks.get(c.name);
          const h = lock?.holders.get(s.id);
          if (lock === undefined || h === undefined) return this.notHolder(s, c.name);
          lock.value = copyBytes(c.value);
          this.emit(tx, { type: 'value-set', sessionId: s.id, name: c.name, token: h.token, mode: lock.mode });
          return { ok: true, type: 'set-value', name: c.name };
        });
      case 'cancel-wait':
        return this.cancelWait(c.waiterId, tx);
      case 'end-lock-delay': {
        const lock = this.st.locks.get(c.name);
        const d = lock?.delay ?? null;
        if (lock === undefined || d === null || (c.since !== undefined && c.since !== d.since)) {
          return { ok: true, type: 'end-lock-delay', name: c.name, ended: false };
        }
        lock.delay = null;
        this.emit(tx, { type: 'delay-ended', sessionId: d.sessionId, name: c.name });
        this.settle(c.name, tx);
        return { ok: true, type: 'end-lock-delay', name: c.name, ended: true };
      }
      default:
        return assertNever(c, 'lock command');
    }
  }

  // ---- sessions ----

  private openSession(ttlMs: number, client: string, meta: SessionMeta | undefined, owner: string, tx: Tx): LockResult {
    const id = tx.meta.index;
    const s: SessionRec = {
      id,
      ttlMs,
      client,
      owner,
      meta: meta === undefined ? {} : Object.fromEntries(Object.entries(meta)),
      openedAt: tx.meta.at,
      // The open entry is the session's first checkpoint: remaining = ttl (DESIGN §3), so a
      // session that never sends a keepalive is bounded by its open even across leader changes.
      lapsed: true,
      remainingMs: ttlMs,
      checkpointIndex: id,
      lastSeq: 0,
      lastResult: null,
      holds: new Set(),
      waits: new Set(),
    };
    this.st.sessions.set(id, s);
    tx.effects.push({ type: 'session-opened', sessionId: id, ttlMs });
    this.emit(tx, { type: 'session-opened', sessionId: id });
    return { ok: true, type: 'open-session', sessionId: id, ttlMs };
  }

  /**
   * Exactly-once wrapper: seq == last → cached result; seq < last → STALE_REQUEST; else run and cache.
   * A session with an owner answers only calls from that identity (PERMISSION_DENIED, nothing
   * changes, nothing cached: not even its remembered results are shown to another identity).
   */
  private clientRequest(sessionId: number, seq: number, caller: string | undefined, isClose: boolean, run: (s: SessionRec) => LockResult): LockResult {
    const s = this.st.sessions.get(sessionId);
    if (s === undefined) return this.noSession(sessionId, seq, isClose);
    const denied = sessionAccessProblem(s, caller);
    if (denied !== undefined) return fail('PERMISSION_DENIED', denied);
    if (seq === s.lastSeq && s.lastResult !== null) return s.lastResult;
    if (seq < s.lastSeq) {
      return fail('STALE_REQUEST', `request seq ${seq} of session ${sessionId} is older than its last request (seq ${s.lastSeq}); it was already answered`);
    }
    const result = run(s);
    if (this.st.sessions.has(sessionId)) {
      s.lastSeq = seq;
      s.lastResult = result;
    }
    return result;
  }

  private noSession(id: number, seq: number | null, isClose: boolean): LockResult {
    const e = this.st.ended.get(id);
    if (e !== undefined) {
      if (isClose && e.reason === 'closed' && e.closeSeq === seq && e.closeResult !== null) return e.closeResult;
      if (e.reason === 'expired') return fail('SESSION_EXPIRED', `session ${id} expired at index ${e.index}; open a new session`);
      return fail('SESSION_NOT_FOUND', `session ${id} was closed at index ${e.index}; open a new session`);
    }
    return fail('SESSION_NOT_FOUND', `session ${id} is not open (never opened, or ended long ago); open a new session`);
  }

  private closeSession(s: SessionRec, seq: number, tx: Tx): LockResult {
    const released = this.endSession(s, 'closed', 0, tx);
    const result: LockResult = { ok: true, type: 'close-session', sessionId: s.id, released };
    this.remember(s.id, 'closed', tx, seq, result);
    return result;
  }

  private remember(sessionId: number, reason: SessionEndReason, tx: Tx, closeSeq: number | null, closeResult: LockResult | null): void {
    const cap = this.st.config.endedSessionMemory;
    if (cap === 0) return;
    this.st.ended.set(sessionId, { sessionId, reason, index: tx.meta.index, at: tx.meta.at, closeSeq, closeResult });
    while (this.st.ended.size > cap) {
      const oldest = this.st.ended.keys().next();
      if (oldest.done === true) break;
      this.st.ended.delete(oldest.value);
    }
  }

  /** Removes the session's waiters, releases its holds (with lock-delay on expiry), then grants. */
  /** Removes every waiter of `s` (its `wait-ended` effects carry `code`); returns the locks they waited on. */
  private dropWaits(s: SessionRec, code: ErrorCode, tx: Tx): Set<string> {
    const touched = new Set<string>();
    for (const wid of [...s.waits].sort(asc)) {
      const w = this.st.waiters.get(wid);
      if (w === undefined) continue;
      this.dropWaiter(w);
      touched.add(w.name);
      tx.effects.push({ type: 'wait-ended', waiterId: wid, sessionId: s.id, name: w.name, code });
    }
    return touched;
  }

  private endSession(s: SessionRec, reason: SessionEndReason, delayMs: number, tx: Tx): string[] {
    const touched = this.dropWaits(s, reason === 'closed' ? 'SESSION_NOT_FOUND' : 'SESSION_EXPIRED', tx);
    const released = [...s.holds].sort();
    for (const name of released) {
      const lock = this.st.locks.get(name);
      const h = lock?.holders.get(s.id);
      if (lock === undefined || h === undefined) continue;
      const mode = lock.mode;
      this.dropHold(lock, s);
      this.emit(tx, { type: reason === 'closed' ? 'released' : 'expired', sessionId: s.id, name, token: h.token, mode });
      if (reason === 'expired' && delayMs > 0) {
        // Chubby §2.4: a lock freed by a failed holder stays unavailable for the lock-delay.
        lock.delay = { since: tx.meta.index, sessionId: s.id, delayMs, at: tx.meta.at };
        tx.effects.push({ type: 'lock-delay', name, delayMs, since: tx.meta.index });
      }
      touched.add(name);
    }
    this.st.sessions.delete(s.id);
    this.emit(tx, { type: reason === 'closed' ? 'session-closed' : 'session-expired', sessionId: s.id });
    tx.effects.push({ type: 'session-ended', sessionId: s.id, reason });
    for (const name of [...touched].sort()) this.settle(name, tx);
    return released;
  }

  // ---- locks ----

  private acquire(s: SessionRec, c: AcquireCommand, tx: Tx): LockResult {
    const lock = this.st.locks.get(c.name);
    const held = lock?.holders.get(s.id);
    if (lock !== undefined && held !== undefined) {
      if (lock.mode === c.mode) {
        if (c.value !== undefined) {
          lock.value = copyBytes(c.value);
          this.emit(tx, { type: 'value-set', sessionId: s.id, name: c.name, token: held.token, mode: lock.mode });
        }
        return { ok: true, type: 'acquire', status: 'granted', name: c.name, mode: c.mode, sessionId: s.id, token: held.token, alreadyHeld: true };
      }
      return fail(
        'UPGRADE_REFUSED',
        lock.mode === 'shared'
          ? `session ${s.id} holds lock ${q(c.name)} shared (token ${held.token}); a shared hold cannot be upgraded to exclusive: release it first`
          : `session ${s.id} holds lock ${q(c.name)} exclusively (token ${held.token}); it cannot be downgraded to shared: release it first`,
      );
    }
    const waiting = this.waiterOf(s, c.name);
    if (waiting !== undefined) {
      if (waiting.mode !== c.mode) {
        return fail('INVALID_ARGUMENT', `session ${s.id} is already queued for lock ${q(c.name)} in ${waiting.mode} mode (waiter ${waiting.waiterId}); it cannot also wait in ${c.mode} mode`);
      }
      if (c.waitMs === 0) return fail('LOCK_HELD', `lock ${q(c.name)} is not free: session ${s.id} is already queued for it (waiter ${waiting.waiterId})`);
      waiting.seq = c.seq;
      waiting.waitMs = c.waitMs;
      if (c.value !== undefined) waiting.value = copyBytes(c.value);
      tx.effects.push({ type: 'wait-deadline', waiterId: waiting.waiterId, waitMs: c.waitMs });
      return { ok: true, type: 'acquire', status: 'queued', name: c.name, mode: c.mode, sessionId: s.id, waiterId: waiting.waiterId };
    }
    if (lock === undefined || this.grantableNow(lock, c.mode)) {
      const l = lock ?? this.createLock(c.name);
      const h = this.addHold(l, s, c.mode, tx);
      if (c.value !== undefined) l.value = copyBytes(c.value);
      return { ok: true, type: 'acquire', status: 'granted', name: c.name, mode: c.mode, sessionId: s.id, token: h.token, alreadyHeld: false };
    }
    if (c.waitMs === 0) return fail('LOCK_HELD', this.busyMessage(lock, c.mode));
    const max = this.st.config.maxWaitersPerLock;
    if (lock.queue.length >= max) return fail('TOO_MANY_WAITERS', `lock ${q(c.name)} already has ${lock.queue.length} waiters; the limit is ${max}`);
    const w: WaiterRec = {
      waiterId: tx.meta.index,
      sessionId: s.id,
      name: c.name,
      mode: c.mode,
      seq: c.seq,
      waitMs: c.waitMs,
      value: c.value === undefined ? null : copyBytes(c.value),
      at: tx.meta.at,
    };
    lock.queue.push(w.waiterId);
    this.st.waiters.set(w.waiterId, w);
    s.waits.add(w.waiterId);
    tx.effects.push({ type: 'wait-deadline', waiterId: w.waiterId, waitMs: w.waitMs });
    return { ok: true, type: 'acquire', status: 'queued', name: c.name, mode: c.mode, sessionId: s.id, waiterId: w.waiterId };
  }

  private release(s: SessionRec, name: string, tx: Tx): LockResult {
    const lock = this.st.locks.get(name);
    const h = lock?.holders.get(s.id);
    if (lock === undefined || h === undefined) return this.notHolder(s, name);
    const mode = lock.mode;
    this.dropHold(lock, s);
    this.emit(tx, { type: 'released', sessionId: s.id, name, token: h.token, mode });
    this.settle(name, tx);
    return { ok: true, type: 'release', name, token: h.token };
  }

  private notHolder(s: SessionRec, name: string): LockFailure {
    const w = this.waiterOf(s, name);
    return fail('NOT_HOLDER', `session ${s.id} does not hold lock ${q(name)}${w === undefined ? '' : ` (it is queued as waiter ${w.waiterId})`}`);
  }

  private cancelWait(waiterId: number, tx: Tx): LockResult {
    const w = this.st.waiters.get(waiterId);
    if (w === undefined) return { ok: true, type: 'cancel-wait', waiterId, cancelled: false };
    this.dropWaiter(w);
    const s = this.st.sessions.get(w.sessionId);
    if (s !== undefined && s.lastSeq === w.seq) {
      s.lastResult = fail('WAIT_TIMEOUT', `session ${w.sessionId} waited ${w.waitMs} ms for lock ${q(w.name)} (waiter ${waiterId}) without a grant`);
    }
    tx.effects.push({ type: 'wait-ended', waiterId, sessionId: w.sessionId, name: w.name, code: 'WAIT_TIMEOUT' });
    this.emit(tx, { type: 'wait-timeout', sessionId: w.sessionId, name: w.name, mode: w.mode });
    this.settle(w.name, tx);
    return { ok: true, type: 'cancel-wait', waiterId, cancelled: true };
  }

  private busyMessage(lock: LockRec, mode: LockMode): string {
    const n = q(lock.name);
    if (lock.delay !== null) {
      return `lock ${n} is in lock-delay (${lock.delay.delayMs} ms) since session ${lock.delay.sessionId} expired at index ${lock.delay.since}; try again later`;
    }
    const first = lock.holders.values().next();
    if (lock.mode === 'exclusive' && first.done !== true) {
      return `lock ${n} is held exclusively by session ${first.value.sessionId} (token ${first.value.token})`;
    }
    if (lock.mode === 'shared' && mode === 'exclusive') return `lock ${n} is held shared by ${lock.holders.size} session(s)`;
    return `lock ${n} has ${lock.queue.length} waiter(s) queued ahead (FIFO)`;
  }

  private grantableNow(lock: LockRec, mode: LockMode): boolean {
    return lock.delay === null && lock.queue.length === 0 && (lock.mode === null || (lock.mode === 'shared' && mode === 'shared'));
  }

  private waiterOf(s: SessionRec, name: string): WaiterRec | undefined {
    for (const wid of s.waits) {
      const w = this.st.waiters.get(wid);
      if (w !== undefined && w.name === name) return w;
    }
    return undefined;
  }

  private createLock(name: string): LockRec {
    const l: LockRec = { name, mode: null, holders: new Map(), value: null, queue: [], delay: null };
    this.st.locks.set(name, l);
    return l;
  }

  private addHold(lock: LockRec, s: SessionRec, mode: LockMode, tx: Tx): HolderRec {
    const h: HolderRec = { sessionId: s.id, token: tx.meta.index, at: tx.meta.at };
    lock.holders.set(s.id, h);
    lock.mode = mode;
    s.holds.add(lock.name);
    this.st.lastToken = h.token;
    this.emit(tx, { type: 'acquired', sessionId: s.id, name: lock.name, token: h.token, mode });
    return h;
  }

  private dropHold(lock: LockRec, s: SessionRec): void {
    lock.holders.delete(s.id);
    s.holds.delete(lock.name);
    if (lock.holders.size === 0) {
      lock.mode = null;
      lock.value = null;
    }
  }

  private dropWaiter(w: WaiterRec): void {
    this.st.waiters.delete(w.waiterId);
    this.st.sessions.get(w.sessionId)?.waits.delete(w.waiterId);
    const lock = this.st.locks.get(w.name);
    if (lock === undefined) return;
    const i = lock.queue.indexOf(w.waiterId);
    if (i >= 0) lock.queue.splice(i, 1);
  }

  /** Grants the queue head(s) if possible (in FIFO order), then forgets the lock if it is idle. */
  private settle(name: string, tx: Tx): void {
    const lock = this.st.locks.get(name);
    if (lock === undefined) return;
    if (lock.delay === null) {
      for (let wid = lock.queue[0]; wid !== undefined; wid = lock.queue[0]) {
        const w = this.st.waiters.get(wid);
        const s = w === undefined ? undefined : this.st.sessions.get(w.sessionId);
        if (w === undefined || s === undefined) {
          lock.queue.shift(); // unreachable: waiters of ended sessions are removed first
          continue;
        }
        if (!(lock.mode === null || (lock.mode === 'shared' && w.mode === 'shared'))) break;
        lock.queue.shift();
        this.st.waiters.delete(wid);
        s.waits.delete(wid);
        const h = this.addHold(lock, s, w.mode, tx);
        if (w.value !== null) lock.value = w.value;
        tx.effects.push({ type: 'granted', waiterId: wid, sessionId: s.id, name, mode: w.mode, token: h.token });
        if (s.lastSeq === w.seq) {
          s.lastResult = { ok: true, type: 'acquire', status: 'granted', name, mode: w.mode, sessionId: s.id, token: h.token, alreadyHeld: false };
        }
        if (w.mode === 'exclusive') break; // a shared grant wakes every consecutive shared waiter
      }
    }
    if (lock.holders.size === 0 && lock.queue.length === 0 && lock.delay === null) this.st.locks.delete(name);
  }

  private emit(tx: Tx, b: EventBody): void {
    const e: { -readonly [K in keyof LockEvent]: LockEvent[K] } = { index: tx.meta.index, at: tx.meta.at, type: b.type, sessionId: b.sessionId };
    if (b.name !== undefined) e.name = b.name;
    if (b.token !== undefined) e.token = b.token;
    if (b.mode !== undefined && b.mode !== null) e.mode = b.mode;
    tx.events.push(e);
    this.st.ring.push(e);
  }

  // ---- queries ----

  /** The lock called `name`, or undefined when nobody holds it, waits for it or delays it. */
  getLock(name: string): LockInfo | undefined {
    if (!isLockName(name)) return undefined;
    const l = this.st.locks.get(name);
    return l === undefined ? undefined : this.lockInfo(l);
  }

  /** Every lock whose name starts with `prefix`, sorted by name; throws LatchError INVALID_ARGUMENT on a bad prefix. */
  listLocks(prefix = ''): LockInfo[] {
    assertLockPrefix(prefix);
    return [...this.st.locks.keys()]
      .filter((n) => n.startsWith(prefix))
      .sort()
      .map((n) => this.lockInfo(this.st.locks.get(n) as LockRec));
  }

  /** The open session `id`, or undefined. */
  getSession(id: number): SessionInfo | undefined {
    const s = this.st.sessions.get(id);
    return s === undefined ? undefined : this.sessionInfo(s);
  }

  /** Every open session, by id. */
  listSessions(): SessionInfo[] {
    return [...this.st.sessions.values()].sort((a, b) => a.id - b.id).map((s) => this.sessionInfo(s));
  }

  /** Every session's lease state from the log (LeaseTracker.becomeLeader input), by id. */
  sessionLeases(): SessionLease[] {
    return [...this.st.sessions.values()]
      .sort((a, b) => a.id - b.id)
      .map((s) => ({ id: s.id, ttlMs: s.ttlMs, lapsed: s.lapsed, remainingMs: s.remainingMs, checkpointIndex: s.checkpointIndex }));
  }

  /** The sessions the log marks lapsed (a keepalive must commit `renew-session` before its ack), by id. */
  lapsedSessions(): SessionLease[] {
    return this.sessionLeases().filter((s) => s.lapsed);
  }

  /** True iff that session still holds that lock in that mode with that token (Chubby §2.4). Malformed → false. */
  checkSequencer(seq: Sequencer): boolean {
    if (typeof seq !== 'object' || seq === null) return false;
    const lock = typeof seq.name === 'string' ? this.st.locks.get(seq.name) : undefined;
    if (lock === undefined || lock.mode !== seq.mode) return false;
    const h = lock.holders.get(seq.sessionId);
    return h !== undefined && h.token === seq.token;
  }

  /** Watch: retained events with index ≥ `fromIndex` under `prefix`, or WATCH_COMPACTED if some were dropped. */
  eventsSince(fromIndex: number, prefix = ''): EventsSinceResult {
    if (typeof fromIndex !== 'number' || !Number.isSafeInteger(fromIndex) || fromIndex < 0) {
      return { ok: false, code: 'INVALID_ARGUMENT', message: `watch index must be a non-negative integer, got ${describeInput(fromIndex)}` };
    }
    const p = lockPrefixProblem(prefix);
    if (p !== undefined) return { ok: false, code: 'INVALID_ARGUMENT', message: p };
    const events = this.st.ring.since(fromIndex, prefix);
    if (events === undefined) {
      return {
        ok: false,
        code: 'WATCH_COMPACTED',
        message: `events up to index ${this.st.ring.droppedThrough} are no longer retained (ring of ${this.st.config.eventRingSize}); resync from current state and watch from index ${this.st.applied + 1}`,
      };
    }
    return { ok: true, events };
  }

  /**
   * The timers a new leader must arm from state: every waiter's `wait-deadline` (by waiter id) and
   * every lock-delay still in force (by name). Durations are the full ones (the machine has no clock),
   * so after a failover a wait or delay may last longer than asked, never shorter.
   */
  pendingTimers(): LockEffect[] {
    const out: LockEffect[] = [];
    for (const w of [...this.st.waiters.values()].sort((a, b) => a.waiterId - b.waiterId)) {
      out.push({ type: 'wait-deadline', waiterId: w.waiterId, waitMs: w.waitMs });
    }
    for (const name of [...this.st.locks.keys()].sort()) {
      const d = this.st.locks.get(name)?.delay;
      if (d !== undefined && d !== null) out.push({ type: 'lock-delay', name, delayMs: d.delayMs, since: d.since });
    }
    return out;
  }

  private lockInfo(l: LockRec): LockInfo {
    return {
      name: l.name,
      mode: l.mode,
      holders: [...l.holders.values()].map((h) => ({ sessionId: h.sessionId, token: h.token, grantedAt: h.at })),
      value: l.value === null ? null : copyBytes(l.value),
      waiters: l.queue.flatMap((wid) => {
        const w = this.st.waiters.get(wid);
        return w === undefined ? [] : [{ waiterId: w.waiterId, sessionId: w.sessionId, mode: w.mode, waitMs: w.waitMs, queuedAt: w.at }];
      }),
      inDelay: l.delay !== null,
      delay: l.delay === null ? null : { ...l.delay },
      delayUntil: l.delay === null ? null : l.delay.at + l.delay.delayMs,
    };
  }

  private sessionInfo(s: SessionRec): SessionInfo {
    return {
      id: s.id,
      ttlMs: s.ttlMs,
      client: s.client,
      owner: s.owner,
      meta: { ...s.meta },
      openedAt: s.openedAt,
      lapsed: s.lapsed,
      remainingMs: s.remainingMs,
      checkpointIndex: s.checkpointIndex,
      holds: [...s.holds].sort(),
      waits: [...s.waits].sort(asc),
      lastSeq: s.lastSeq,
    };
  }
}
