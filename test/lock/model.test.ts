/**
 * Model test: random command sequences (open, keepalive via the lease tracker, acquire in both modes,
 * try-acquire, release, set-value, expire, end of delay, cancel, close, retries of old (session, seq),
 * malformed commands, snapshot/restore and leader changes in the middle) go to the state machine and
 * to the naive model in model.ts; results and lock views must agree, and invariants hold after
 * every step.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/common/codec.js';
import {
  CheckpointAges,
  LeaseTracker,
  LockStateMachine,
  type ApplyOutput,
  type LockCommand,
  type LockInfo,
  type LockMode,
  type LockSnapshot,
} from '../../src/lock/index.js';
import { LockModel, hex, normalise } from './model.js';

const NAMES = ['a', 'a', 'b/c', 'election/x']; // 'a' twice: more contention
const CONFIG = { maxWaitersPerLock: 2, eventRingSize: 25, endedSessionMemory: 2 };
const E = 1000;

type Op =
  | { t: 'open'; ttl: number }
  | { t: 'acquire'; s: number; n: number; mode: LockMode; wait: boolean; value: string | null }
  | { t: 'release'; s: number; n: number }
  | { t: 'release-held'; h: number }
  | { t: 'set-value'; s: number; n: number; value: string }
  | { t: 'close'; s: number }
  | { t: 'expire'; s: number; delay: number }
  | { t: 'expire-due'; delay: number }
  | { t: 'end-delay'; n: number; stale: boolean }
  | { t: 'cancel'; w: number }
  | { t: 'retry'; s: number }
  | { t: 'stale'; s: number }
  | { t: 'keepalive'; s: number }
  | { t: 'tick'; ms: number }
  | { t: 'checkpoint' }
  | { t: 'snapshot' }
  | { t: 'new-leader' }
  | { t: 'malformed'; k: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('open' as const), ttl: fc.constantFrom(1000, 5000, 60_000, 60_000) }) },
  {
    weight: 16,
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      s: fc.nat(),
      n: fc.nat(),
      mode: fc.constantFrom<LockMode>('exclusive', 'shared'),
      wait: fc.constantFrom(true, true, false),
      value: fc.option(fc.constantFrom('v1', 'v2')),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), s: fc.nat(), n: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('release-held' as const), h: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('set-value' as const), s: fc.nat(), n: fc.nat(), value: fc.constantFrom('p', 'q') }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), s: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('expire' as const), s: fc.nat(), delay: fc.constantFrom(0, 5000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('expire-due' as const), delay: fc.constantFrom(0, 5000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('end-delay' as const), n: fc.nat(), stale: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('cancel' as const), w: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('retry' as const), s: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const), s: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('keepalive' as const), s: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('checkpoint' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('snapshot' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('new-leader' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('malformed' as const), k: fc.nat() }) },
);

const MALFORMED: unknown[] = [
  { type: 'acquire', sessionId: 1, seq: 1, name: '//', mode: 'exclusive', waitMs: 0 },
  { type: 'release', sessionId: -1, seq: 1, name: 'a' },
  { type: 'checkpoint-sessions', sessions: [[1, -1]] },
  { type: 'open-session', ttlMs: 10, client: 'c' },
  { type: 'nope' },
  42,
];

/** Cheap deep equality on the hot path; vitest's expect only on a mismatch, for its diff. */
function eq(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, what).toEqual(expected);
}

function check(cond: boolean, what: string): void {
  if (!cond) expect.fail(what);
}

function lockView(l: LockInfo): Record<string, unknown> {
  return {
    name: l.name,
    mode: l.mode,
    holders: l.holders.map((h) => [h.sessionId, h.token]),
    waiters: l.waiters.map((w) => [w.waiterId, w.sessionId, w.mode]),
    inDelay: l.inDelay,
    value: l.value === null ? null : hex(l.value),
  };
}

class World {
  m = new LockStateMachine(CONFIG);
  model = new LockModel(CONFIG.maxWaitersPerLock, CONFIG.endedSessionMemory);
  tracker = new LeaseTracker({ minCheckpointChangeMs: 500 });
  ages = new CheckpointAges();
  index = 0;
  now = 0;
  maxToken = 0;
  opened: number[] = [];
  seqs = new Map<number, number>();
  lastCmd = new Map<number, LockCommand>();

  constructor() {
    this.tracker.becomeLeader(0, [], E);
  }

  /** Mostly a live session; every fourth pick any session ever opened (ended ones exercise the errors). */
  pick(k: number): number | undefined {
    const live = this.model.sessions.map((s) => s.id);
    const pool = k % 4 === 3 || live.length === 0 ? this.opened : live;
    return pool.length === 0 ? undefined : pool[Math.floor(k / 4) % pool.length];
  }

  clientCmd(sid: number, body: (seq: number) => LockCommand): void {
    const seq = (this.seqs.get(sid) ?? 0) + 1;
    this.seqs.set(sid, seq);
    const cmd = body(seq);
    this.lastCmd.set(sid, cmd);
    this.step(cmd);
  }

  /** Applies `cmd` to machine and model, compares, checks invariants. */
  step(cmd: LockCommand): ApplyOutput {
    const before = new Map(this.m.listLocks().map((l) => [l.name, l]));
    this.index += 1 + (this.index % 3 === 0 ? 1 : 0); // leave gaps sometimes, as Raft no-ops do
    const out = this.m.apply(cmd, { index: this.index, term: 1, at: this.now });
    const expected = this.model.apply(cmd, this.index);
    eq(normalise(out.result), expected, `result of ${JSON.stringify(cmd)}`);
    // grants from the queue agree with the model's
    const granted = out.effects.flatMap((e) => (e.type === 'granted' ? [{ waiterId: e.waiterId, sessionId: e.sessionId, name: e.name, token: e.token }] : []));
    eq(granted, this.model.grants, 'grants');
    if (cmd.type === 'open-session' || cmd.type === 'checkpoint-sessions') this.ages.applied(this.index, this.now);
    for (const e of out.effects) {
      if (e.type === 'session-opened') {
        this.opened.push(e.sessionId);
        this.tracker.opened(e.sessionId, e.ttlMs, this.now);
      }
      if (e.type === 'session-ended') this.tracker.ended(e.sessionId);
    }
    this.checkInvariants(cmd, out, before);
    return out;
  }

  checkInvariants(cmd: LockCommand, out: ApplyOutput, before: Map<string, LockInfo>): void {
    const locks = this.m.listLocks();
    eq(locks.map(lockView), this.model.view(), 'locks');
    const live = new Set(this.m.listSessions().map((s) => s.id));
    eq([...live], this.model.sessions.map((s) => s.id), 'sessions');
    for (const s of this.m.listSessions()) {
      const ms = this.model.session(s.id);
      eq([s.lapsed, s.remainingMs, s.lastSeq], [ms?.lapsed, ms?.remaining, ms?.lastSeq], `session ${s.id}`);
    }
    for (const l of locks) {
      // never two exclusive holders, never an exclusive beside a shared one
      if (l.mode === 'exclusive') check(l.holders.length === 1, `two exclusive holders of ${l.name}`);
      check((l.mode === null) === (l.holders.length === 0), `mode/holders of ${l.name}`);
      // no holder or waiter of an ended session
      for (const h of l.holders) check(live.has(h.sessionId), `holder of ended session ${h.sessionId}`);
      for (const w of l.waiters) check(live.has(w.sessionId), `waiter of ended session ${w.sessionId}`);
      // FIFO: queue in arrival order, and nobody still queued was ahead of someone granted now
      const ids = l.waiters.map((w) => w.waiterId);
      eq([...ids].sort((a, b) => a - b), ids, `FIFO order of ${l.name}`);
      const prev = before.get(l.name)?.waiters.map((w) => w.waiterId) ?? [];
      const grantedHere = out.effects.filter((e) => e.type === 'granted' && e.name === l.name).map((e) => (e.type === 'granted' ? e.waiterId : 0));
      for (const g of grantedHere) {
        const pos = prev.indexOf(g);
        check(pos >= 0, `granted waiter ${g} was not queued`);
        for (const ahead of prev.slice(0, pos)) check(!ids.includes(ahead), `waiter ${ahead} was overtaken by ${g}`);
      }
      // grants happen as soon as possible: outside a delay the head is not grantable
      const head = l.waiters[0];
      if (!l.inDelay && head !== undefined) check(l.mode === 'exclusive' || (l.mode === 'shared' && head.mode === 'exclusive'), `grantable head left waiting on ${l.name}`);
    }
    // no grant while in lock-delay
    for (const e of out.events) {
      if (e.type !== 'acquired') continue;
      const wasDelayed = before.get(e.name as string)?.inDelay === true;
      const endedHere = cmd.type === 'end-lock-delay' && cmd.name === e.name && out.result.ok && out.result.type === 'end-lock-delay' && out.result.ended;
      if (wasDelayed) check(endedHere, `grant on ${e.name} during lock-delay`);
      check(this.m.getLock(e.name as string)?.inDelay === false, `grant on ${e.name} left in delay`);
      // tokens: the entry's index, above every token of earlier entries
      check(e.token === this.index && this.index > this.maxToken, `token ${e.token} at index ${this.index} after ${this.maxToken}`);
    }
    if (out.events.some((e) => e.type === 'acquired')) this.maxToken = this.index;
    check(this.m.lastToken === this.maxToken, 'lastToken');
  }

  run(op: Op): void {
    switch (op.t) {
      case 'open':
        this.step({ type: 'open-session', ttlMs: op.ttl, client: 'model' });
        return;
      case 'acquire': {
        const sid = this.pick(op.s);
        if (sid === undefined) return;
        const name = NAMES[op.n % NAMES.length] as string;
        this.clientCmd(sid, (seq) => {
          const base = { type: 'acquire' as const, sessionId: sid, seq, name, mode: op.mode, waitMs: op.wait ? 1000 : 0 };
          return op.value === null ? base : { ...base, value: new TextEncoder().encode(op.value) };
        });
        return;
      }
      case 'release': {
        const sid = this.pick(op.s);
        if (sid !== undefined) this.clientCmd(sid, (seq) => ({ type: 'release', sessionId: sid, seq, name: NAMES[op.n % NAMES.length] as string }));
        return;
      }
      case 'release-held': {
        const holds = this.m.listLocks().flatMap((l) => l.holders.map((h) => [h.sessionId, l.name] as const));
        const pick = holds[op.h % Math.max(1, holds.length)];
        if (pick !== undefined) this.clientCmd(pick[0], (seq) => ({ type: 'release', sessionId: pick[0], seq, name: pick[1] }));
        return;
      }
      case 'set-value': {
        const sid = this.pick(op.s);
        if (sid !== undefined) this.clientCmd(sid, (seq) => ({ type: 'set-value', sessionId: sid, seq, name: NAMES[op.n % NAMES.length] as string, value: new TextEncoder().encode(op.value) }));
        return;
      }
      case 'close': {
        const sid = this.pick(op.s);
        if (sid !== undefined) this.clientCmd(sid, (seq) => ({ type: 'close-session', sessionId: sid, seq }));
        return;
      }
      case 'expire': {
        const sid = this.pick(op.s);
        // Half the time as a batch that lists it twice (the second is skipped).
        if (sid !== undefined) this.step(op.s % 2 === 0 ? { type: 'expire-session', sessionId: sid, lockDelayMs: op.delay } : { type: 'expire-sessions', sessionIds: [sid, sid], lockDelayMs: op.delay });
        return;
      }
      case 'expire-due': {
        const due = this.tracker.due(this.now);
        if (due.length > 1) {
          // What the leader proposes: one entry for every session due.
          const out = this.step({ type: 'expire-sessions', sessionIds: due, lockDelayMs: op.delay });
          expect(out.result).toEqual({ ok: true, type: 'expire-sessions', expired: due });
          return;
        }
        for (const id of due) {
          const out = this.step({ type: 'expire-session', sessionId: id, lockDelayMs: op.delay });
          expect(out.result.ok).toBe(true);
        }
        return;
      }
      case 'end-delay': {
        const name = NAMES[op.n % NAMES.length] as string;
        const since = this.m.getLock(name)?.delay?.since;
        this.step(since === undefined ? { type: 'end-lock-delay', name } : { type: 'end-lock-delay', name, since: op.stale ? since + 1 : since });
        return;
      }
      case 'cancel': {
        const timers = this.m.pendingTimers().filter((t) => t.type === 'wait-deadline');
        const t = timers[op.w % Math.max(1, timers.length)];
        this.step({ type: 'cancel-wait', waiterId: t?.type === 'wait-deadline' ? t.waiterId : op.w + 1 });
        return;
      }
      case 'retry': {
        const sid = this.pick(op.s);
        const cmd = sid === undefined ? undefined : this.lastCmd.get(sid);
        if (cmd !== undefined) {
          const out = this.step(cmd);
          expect(out.events.filter((e) => e.type === 'acquired' || e.type === 'released')).toEqual([]);
        }
        return;
      }
      case 'stale': {
        const sid = this.pick(op.s);
        const cmd = sid === undefined ? undefined : this.lastCmd.get(sid);
        if (cmd !== undefined && 'seq' in cmd && cmd.seq > 1) this.step({ ...cmd, seq: cmd.seq - 1 });
        return;
      }
      case 'keepalive': {
        const sid = this.pick(op.s);
        if (sid === undefined) return;
        const outcome = this.tracker.keepalive(sid, this.now);
        const s = this.m.getSession(sid);
        if (outcome === 'ack') expect(s?.lapsed).toBe(false); // never ack a session the log marks lapsed
        if (outcome === 'unknown') expect(s).toBeUndefined();
        if (outcome === 'renew-first') {
          const out = this.step({ type: 'renew-session', sessionId: sid });
          expect(out.result.ok).toBe(true);
          expect(this.tracker.renewed(sid, this.now)).toBe(true);
          expect(this.tracker.deadline(sid)).toBe(this.now + (s?.ttlMs ?? 0));
        }
        return;
      }
      case 'tick':
        this.now += op.ms;
        return;
      case 'checkpoint': {
        const batch = this.tracker.checkpoint(this.now, 500);
        if (batch.length > 0) this.step({ type: 'checkpoint-sessions', sessions: batch });
        return;
      }
      case 'snapshot': {
        const snap = this.m.snapshot();
        this.m = LockStateMachine.restore(decode<LockSnapshot>(encode(snap)));
        expect(this.m.snapshot()).toEqual(snap);
        return;
      }
      case 'new-leader': {
        this.tracker = new LeaseTracker({ minCheckpointChangeMs: 500 });
        this.tracker.becomeLeader(this.now, this.ages.leaseInputs(this.m.sessionLeases(), this.now), E);
        for (const s of this.m.listSessions()) expect(this.tracker.has(s.id)).toBe(true);
        return;
      }
      case 'malformed': {
        const before = this.m.snapshot();
        this.index++;
        const out = this.m.apply(MALFORMED[op.k % MALFORMED.length] as LockCommand, { index: this.index, term: 1, at: this.now });
        expect(out.result).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
        expect(this.m.snapshot()).toEqual(before);
        return;
      }
    }
  }
}

describe('lock state machine vs naive model', () => {
  it('agree on random command sequences, with invariants after every step', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 10, maxLength: 100, size: 'max' }), (ops) => {
        const w = new World();
        const step = w.step.bind(w);
        w.step = (cmd) => {
          const out = step(cmd);
          seen.add(out.result.ok ? `${out.result.type}${out.result.type === 'acquire' ? `:${out.result.status}` : ''}` : out.result.code);
          for (const e of out.effects) seen.add(`effect:${e.type}`);
          return out;
        };
        for (const op of ops) w.run(op);
      }),
      { numRuns: 200 },
    );
    // the property is not vacuous: every interesting path was taken
    for (const k of ['acquire:granted', 'acquire:queued', 'LOCK_HELD', 'NOT_HOLDER', 'STALE_REQUEST', 'UPGRADE_REFUSED', 'TOO_MANY_WAITERS', 'SESSION_EXPIRED', 'SESSION_NOT_FOUND', 'effect:granted', 'effect:lock-delay', 'effect:wait-ended', 'renew-session', 'checkpoint-sessions', 'end-lock-delay', 'close-session', 'expire-session', 'expire-sessions']) {
      expect(seen, k).toContain(k);
    }
  });
});
