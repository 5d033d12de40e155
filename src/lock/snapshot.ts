/**
 * Lock state machine snapshots: plain data of everything (sessions, holders, waiters in queue order,
 * lock-delays, the exactly-once table, remembered ended sessions, the event ring, counters), and the
 * checked way back. `snapshotToState` treats its input as untrusted bytes from disk: anything
 * malformed or inconsistent is a LatchError `INVALID_ARGUMENT` naming the offending field.
 */
import { ERROR_CODES, LatchError } from '../common/index.js';
import { resolveLockConfig } from './config.js';
import { EventRing } from './event-ring.js';
import { clonePlain, copyBytes, type EndedRec, type LockRec, type MachineState, type SessionRec, type WaiterRec } from './records.js';
import type { DelayInfo, LockConfig, LockEvent, LockEventType, LockMode, LockResult, SessionEndReason, SessionMeta } from './types.js';
import { clientProblem, identityProblem, isPlainObject, lockNameProblem, lockValueProblem, sessionMetaProblem, ttlProblem } from './validate.js';

/** Current snapshot format version. */
export const LOCK_SNAPSHOT_VERSION = 1;

/** A session in a snapshot. */
export interface SessionSnapshot {
  readonly id: number;
  readonly ttlMs: number;
  readonly client: string;
  /** '' or absent (snapshots from before owners): no owner. */
  readonly owner?: string;
  readonly meta: SessionMeta;
  readonly openedAt: number;
  readonly lapsed: boolean;
  readonly remainingMs: number | null;
  readonly checkpointIndex: number | null;
  readonly lastSeq: number;
  readonly lastResult: LockResult | null;
}

/** A holder in a snapshot (grant order). */
export interface HolderSnapshot {
  readonly sessionId: number;
  readonly token: number;
  readonly at: number;
}

/** A waiter in a snapshot (queue order). */
export interface WaiterSnapshot {
  readonly waiterId: number;
  readonly sessionId: number;
  readonly seq: number;
  readonly mode: LockMode;
  readonly waitMs: number;
  readonly value: Uint8Array | null;
  readonly at: number;
}

/** A lock in a snapshot. */
export interface LockRecordSnapshot {
  readonly name: string;
  readonly mode: LockMode | null;
  readonly holders: readonly HolderSnapshot[];
  readonly value: Uint8Array | null;
  readonly waiters: readonly WaiterSnapshot[];
  readonly delay: DelayInfo | null;
}

/** A remembered ended session in a snapshot (oldest first). */
export interface EndedSessionSnapshot {
  readonly sessionId: number;
  readonly reason: SessionEndReason;
  readonly index: number;
  readonly at: number;
  readonly closeSeq: number | null;
  readonly closeResult: LockResult | null;
}

/** Everything the lock state machine holds, as plain data. */
export interface LockSnapshot {
  readonly version: typeof LOCK_SNAPSHOT_VERSION;
  readonly config: LockConfig;
  readonly appliedIndex: number;
  readonly lastToken: number;
  readonly sessions: readonly SessionSnapshot[];
  readonly locks: readonly LockRecordSnapshot[];
  readonly ended: readonly EndedSessionSnapshot[];
  readonly events: readonly LockEvent[];
  readonly eventsDroppedThrough: number;
}

/** Copies machine state into a snapshot (sessions by id, locks by name; nothing shared with the machine). */
export function stateToSnapshot(st: MachineState): LockSnapshot {
  const sessions = [...st.sessions.values()]
    .sort((a, b) => a.id - b.id)
    .map((s) => ({
      id: s.id,
      ttlMs: s.ttlMs,
      client: s.client,
      owner: s.owner,
      meta: { ...s.meta },
      openedAt: s.openedAt,
      lapsed: s.lapsed,
      remainingMs: s.remainingMs,
      checkpointIndex: s.checkpointIndex,
      lastSeq: s.lastSeq,
      lastResult: s.lastResult === null ? null : clonePlain(s.lastResult),
    }));
  const locks = [...st.locks.keys()].sort().map((name) => {
    const l = st.locks.get(name) as LockRec;
    return {
      name,
      mode: l.mode,
      holders: [...l.holders.values()].map((h) => ({ sessionId: h.sessionId, token: h.token, at: h.at })),
      value: l.value === null ? null : copyBytes(l.value),
      waiters: l.queue.flatMap((wid) => {
        const w = st.waiters.get(wid);
        if (w === undefined) return [];
        return [{ waiterId: w.waiterId, sessionId: w.sessionId, seq: w.seq, mode: w.mode, waitMs: w.waitMs, value: w.value === null ? null : copyBytes(w.value), at: w.at }];
      }),
      delay: l.delay === null ? null : { ...l.delay },
    };
  });
  const ended = [...st.ended.values()].map((e) => ({ ...e, closeResult: e.closeResult === null ? null : clonePlain(e.closeResult) }));
  return {
    version: LOCK_SNAPSHOT_VERSION,
    config: { ...st.config },
    appliedIndex: st.applied,
    lastToken: st.lastToken,
    sessions,
    locks,
    ended,
    events: st.ring.toArray(),
    eventsDroppedThrough: st.ring.droppedThrough,
  };
}

function bad(path: string, what: string): never {
  throw new LatchError('INVALID_ARGUMENT', `invalid lock snapshot: ${path} ${what}`);
}

function obj(x: unknown, path: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) bad(path, 'must be an object');
  return x as Record<string, unknown>;
}

function arr(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) bad(path, 'must be an array');
  return x;
}

function int(x: unknown, path: string, min = 0): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) bad(path, `must be an integer ≥ ${min}`);
  return x;
}

function finite(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) bad(path, 'must be a finite number');
  return x;
}

function bool(x: unknown, path: string): boolean {
  if (typeof x !== 'boolean') bad(path, 'must be a boolean');
  return x;
}

function nullableInt(x: unknown, path: string, min = 0): number | null {
  return x === null || x === undefined ? null : int(x, path, min);
}

function mode(x: unknown, path: string): LockMode {
  if (x !== 'exclusive' && x !== 'shared') bad(path, "must be 'exclusive' or 'shared'");
  return x;
}

function bytes(x: unknown, path: string): Uint8Array | null {
  if (x === null || x === undefined) return null;
  const p = lockValueProblem(x);
  if (p !== undefined) bad(path, p);
  return copyBytes(x as Uint8Array);
}

function result(x: unknown, path: string): LockResult | null {
  if (x === null || x === undefined) return null;
  const r = obj(x, path);
  if (r['ok'] === true) {
    if (typeof r['type'] !== 'string') bad(`${path}.type`, 'must be a string');
  } else if (r['ok'] === false) {
    if (typeof r['code'] !== 'string' || !Object.hasOwn(ERROR_CODES, r['code'])) bad(`${path}.code`, 'must be a registry error code');
    if (typeof r['message'] !== 'string') bad(`${path}.message`, 'must be a string');
  } else bad(`${path}.ok`, 'must be a boolean');
  return clonePlain(r) as unknown as LockResult;
}

const EVENT_TYPES: ReadonlySet<string> = new Set<LockEventType>([
  'session-opened',
  'session-closed',
  'session-expired',
  'acquired',
  'released',
  'expired',
  'delay-ended',
  'value-set',
  'wait-timeout',
]);

function event(x: unknown, path: string): LockEvent {
  const e = obj(x, path);
  const type = e['type'];
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) bad(`${path}.type`, 'must be an event type');
  const out: { -readonly [K in keyof LockEvent]: LockEvent[K] } = {
    index: int(e['index'], `${path}.index`, 1),
    at: finite(e['at'], `${path}.at`),
    type: type as LockEventType,
    sessionId: int(e['sessionId'], `${path}.sessionId`, 1),
  };
  if (e['name'] !== undefined && e['name'] !== null) {
    const p = lockNameProblem(e['name']);
    if (p !== undefined) bad(`${path}.name`, p);
    out.name = e['name'] as string;
  }
  if (e['token'] !== undefined && e['token'] !== null) out.token = int(e['token'], `${path}.token`, 1);
  if (e['mode'] !== undefined && e['mode'] !== null) out.mode = mode(e['mode'], `${path}.mode`);
  return out;
}

/** Rebuilds machine state from snapshot data, checking shape and cross-references. */
export function snapshotToState(input: unknown): MachineState {
  const s = obj(input, 'snapshot');
  if (s['version'] !== LOCK_SNAPSHOT_VERSION) bad('version', `must be ${LOCK_SNAPSHOT_VERSION}, got ${String(s['version'])}`);
  const config = resolveLockConfig(obj(s['config'], 'config') as Partial<LockConfig>);
  const applied = int(s['appliedIndex'], 'appliedIndex');
  const lastToken = int(s['lastToken'], 'lastToken');
  if (lastToken > applied) bad('lastToken', `(${lastToken}) exceeds appliedIndex (${applied})`);

  const sessions = new Map<number, SessionRec>();
  arr(s['sessions'], 'sessions').forEach((x, i) => {
    const p = `sessions[${i}]`;
    const r = obj(x, p);
    const id = int(r['id'], `${p}.id`, 1);
    if (id > applied) bad(`${p}.id`, `(${id}) exceeds appliedIndex`);
    if (sessions.has(id)) bad(`${p}.id`, `duplicates session ${id}`);
    const owner = r['owner'] === undefined || r['owner'] === '' ? '' : r['owner'];
    const tp = ttlProblem(r['ttlMs']) ?? clientProblem(r['client']) ?? sessionMetaProblem(r['meta']) ?? (owner === '' ? undefined : identityProblem('owner', owner));
    if (tp !== undefined) bad(p, tp);
    sessions.set(id, {
      id,
      ttlMs: r['ttlMs'] as number,
      client: r['client'] as string,
      owner: owner as string,
      meta: { ...(r['meta'] as SessionMeta) },
      openedAt: finite(r['openedAt'], `${p}.openedAt`),
      lapsed: bool(r['lapsed'], `${p}.lapsed`),
      remainingMs: nullableInt(r['remainingMs'], `${p}.remainingMs`),
      checkpointIndex: nullableInt(r['checkpointIndex'], `${p}.checkpointIndex`, 1),
      lastSeq: int(r['lastSeq'], `${p}.lastSeq`),
      lastResult: result(r['lastResult'], `${p}.lastResult`),
      holds: new Set(),
      waits: new Set(),
    });
  });

  const locks = new Map<string, LockRec>();
  const waiters = new Map<number, WaiterRec>();
  arr(s['locks'], 'locks').forEach((x, i) => {
    const p = `locks[${i}]`;
    const r = obj(x, p);
    const np = lockNameProblem(r['name']);
    if (np !== undefined) bad(`${p}.name`, np);
    const name = r['name'] as string;
    if (locks.has(name)) bad(`${p}.name`, `duplicates lock ${JSON.stringify(name)}`);
    const lockMode = r['mode'] === null || r['mode'] === undefined ? null : mode(r['mode'], `${p}.mode`);
    const lock: LockRec = { name, mode: lockMode, holders: new Map(), value: bytes(r['value'], `${p}.value`), queue: [], delay: null };
    arr(r['holders'], `${p}.holders`).forEach((hx, j) => {
      const hp = `${p}.holders[${j}]`;
      const h = obj(hx, hp);
      const sid = int(h['sessionId'], `${hp}.sessionId`, 1);
      const sess = sessions.get(sid);
      if (sess === undefined) bad(`${hp}.sessionId`, `refers to unknown session ${sid}`);
      if (lock.holders.has(sid)) bad(hp, `duplicates holder session ${sid}`);
      const token = int(h['token'], `${hp}.token`, 1);
      if (token > lastToken) bad(`${hp}.token`, `(${token}) exceeds lastToken`);
      lock.holders.set(sid, { sessionId: sid, token, at: finite(h['at'], `${hp}.at`) });
      sess.holds.add(name);
    });
    if ((lockMode === null) !== (lock.holders.size === 0)) bad(`${p}.mode`, 'must be null exactly when there are no holders');
    if (lockMode === 'exclusive' && lock.holders.size !== 1) bad(`${p}.holders`, 'an exclusive lock has exactly one holder');
    if (lock.holders.size === 0 && lock.value !== null) bad(`${p}.value`, 'must be null when there are no holders');
    arr(r['waiters'], `${p}.waiters`).forEach((wx, j) => {
      const wp = `${p}.waiters[${j}]`;
      const w = obj(wx, wp);
      const waiterId = int(w['waiterId'], `${wp}.waiterId`, 1);
      if (waiters.has(waiterId)) bad(`${wp}.waiterId`, `duplicates waiter ${waiterId}`);
      const prev = lock.queue[lock.queue.length - 1];
      if (prev !== undefined && prev >= waiterId) bad(`${wp}.waiterId`, 'queue must be in FIFO (increasing id) order');
      const sid = int(w['sessionId'], `${wp}.sessionId`, 1);
      const sess = sessions.get(sid);
      if (sess === undefined) bad(`${wp}.sessionId`, `refers to unknown session ${sid}`);
      if (sess.holds.has(name)) bad(wp, `session ${sid} both holds and waits for the lock`);
      for (const other of sess.waits) if (waiters.get(other)?.name === name) bad(wp, `session ${sid} waits twice for the lock`);
      const rec: WaiterRec = {
        waiterId,
        sessionId: sid,
        name,
        mode: mode(w['mode'], `${wp}.mode`),
        seq: int(w['seq'], `${wp}.seq`, 1),
        waitMs: int(w['waitMs'], `${wp}.waitMs`, 1),
        value: bytes(w['value'], `${wp}.value`),
        at: finite(w['at'], `${wp}.at`),
      };
      waiters.set(waiterId, rec);
      lock.queue.push(waiterId);
      sess.waits.add(waiterId);
    });
    if (r['delay'] !== null && r['delay'] !== undefined) {
      const d = obj(r['delay'], `${p}.delay`);
      lock.delay = {
        since: int(d['since'], `${p}.delay.since`, 1),
        sessionId: int(d['sessionId'], `${p}.delay.sessionId`, 1),
        delayMs: int(d['delayMs'], `${p}.delay.delayMs`, 1),
        at: finite(d['at'], `${p}.delay.at`),
      };
    }
    if (lock.holders.size === 0 && lock.queue.length === 0 && lock.delay === null) bad(p, 'is idle (no holders, waiters or delay)');
    locks.set(name, lock);
  });

  const ended = new Map<number, EndedRec>();
  arr(s['ended'], 'ended').forEach((x, i) => {
    const p = `ended[${i}]`;
    const e = obj(x, p);
    const sid = int(e['sessionId'], `${p}.sessionId`, 1);
    if (sessions.has(sid)) bad(`${p}.sessionId`, `session ${sid} is both open and ended`);
    const reason = e['reason'];
    if (reason !== 'closed' && reason !== 'expired') bad(`${p}.reason`, "must be 'closed' or 'expired'");
    ended.set(sid, {
      sessionId: sid,
      reason,
      index: int(e['index'], `${p}.index`, 1),
      at: finite(e['at'], `${p}.at`),
      closeSeq: nullableInt(e['closeSeq'], `${p}.closeSeq`, 1),
      closeResult: result(e['closeResult'], `${p}.closeResult`),
    });
  });
  while (ended.size > config.endedSessionMemory) {
    const oldest = ended.keys().next();
    if (oldest.done === true) break;
    ended.delete(oldest.value);
  }

  const events = arr(s['events'], 'events').map((x, i) => event(x, `events[${i}]`));
  for (let i = 1; i < events.length; i++) {
    if ((events[i] as LockEvent).index < (events[i - 1] as LockEvent).index) bad(`events[${i}].index`, 'events must be in index order');
  }
  const ring = EventRing.from(events, int(s['eventsDroppedThrough'], 'eventsDroppedThrough'), config.eventRingSize);
  return { config, applied, lastToken, sessions, locks, waiters, ended, ring };
}
