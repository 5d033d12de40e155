/**
 * A small, obviously-correct model of the lock rules for the fast-check model test: flat arrays and
 * linear scans, no indexes, no Maps of Sets. Results are "normalised": failures carry only their code.
 */
import type { LockCommand, LockMode, LockResult } from '../../src/lock/index.js';

export type Norm = Record<string, unknown>;

/** A result with its message dropped (the model does not reproduce wording). */
export function normalise(r: LockResult): Norm {
  return r.ok ? { ...r } : { ok: false, code: r.code };
}

interface MSession {
  id: number;
  ttl: number;
  lastSeq: number;
  lastResult: Norm | null;
  lapsed: boolean;
  remaining: number | null;
}
interface MHold {
  name: string;
  sid: number;
  mode: LockMode;
  token: number;
}
interface MWait {
  wid: number;
  name: string;
  sid: number;
  mode: LockMode;
  seq: number;
  waitMs: number;
  value: string | null;
}
interface MEnded {
  sid: number;
  reason: 'closed' | 'expired';
  closeSeq: number | null;
  closeResult: Norm | null;
}

const hex = (v: Uint8Array): string => Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('');
const fail = (code: string): Norm => ({ ok: false, code });

export class LockModel {
  sessions: MSession[] = [];
  holds: MHold[] = [];
  waits: MWait[] = [];
  delays: { name: string; since: number }[] = [];
  values: { name: string; value: string }[] = [];
  ended: MEnded[] = [];
  grants: { waiterId: number; sessionId: number; name: string; token: number }[] = [];

  constructor(
    readonly maxWaiters: number,
    readonly endedMemory: number,
  ) {}

  apply(c: LockCommand, index: number): Norm {
    this.grants = [];
    switch (c.type) {
      case 'open-session':
        this.sessions.push({ id: index, ttl: c.ttlMs, lastSeq: 0, lastResult: null, lapsed: true, remaining: c.ttlMs });
        return { ok: true, type: 'open-session', sessionId: index, ttlMs: c.ttlMs };
      case 'close-session':
        return this.request(c.sessionId, c.seq, true, () => {
          const released = this.end(c.sessionId, 'closed', 0, index);
          const r = { ok: true, type: 'close-session', sessionId: c.sessionId, released };
          this.ended.push({ sid: c.sessionId, reason: 'closed', closeSeq: c.seq, closeResult: r });
          return r;
        });
      case 'expire-session': {
        if (!this.session(c.sessionId)) return this.missing(c.sessionId, null, false);
        const released = this.end(c.sessionId, 'expired', c.lockDelayMs, index);
        this.ended.push({ sid: c.sessionId, reason: 'expired', closeSeq: null, closeResult: null });
        return { ok: true, type: 'expire-session', sessionId: c.sessionId, released };
      }
      case 'expire-sessions': {
        const doomed = [...new Set(c.sessionIds)].filter((id) => this.session(id));
        // Every listed session stops waiting first; then each ends; then the locks they waited on settle.
        const touched = new Set(this.waits.filter((w) => doomed.includes(w.sid)).map((w) => w.name));
        this.waits = this.waits.filter((w) => !doomed.includes(w.sid));
        for (const id of doomed) {
          this.end(id, 'expired', c.lockDelayMs, index);
          this.ended.push({ sid: id, reason: 'expired', closeSeq: null, closeResult: null });
        }
        for (const name of [...touched].sort()) this.settle(name, index);
        return { ok: true, type: 'expire-sessions', expired: doomed };
      }
      case 'checkpoint-sessions': {
        let updated = 0;
        for (const [id, rem] of c.sessions) {
          const s = this.session(id);
          if (!s) continue;
          s.lapsed = true;
          s.remaining = Math.min(rem, s.ttl);
          updated++;
        }
        return { ok: true, type: 'checkpoint-sessions', updated };
      }
      case 'renew-session': {
        const s = this.session(c.sessionId);
        if (!s) return this.missing(c.sessionId, null, false);
        const wasLapsed = s.lapsed;
        s.lapsed = false;
        s.remaining = null;
        return { ok: true, type: 'renew-session', sessionId: c.sessionId, wasLapsed };
      }
      case 'acquire':
        return this.request(c.sessionId, c.seq, false, () => this.acquire(c, index));
      case 'release':
        return this.request(c.sessionId, c.seq, false, () => {
          const h = this.holds.find((x) => x.name === c.name && x.sid === c.sessionId);
          if (!h) return fail('NOT_HOLDER');
          this.dropHold(h);
          this.settle(c.name, index);
          return { ok: true, type: 'release', name: c.name, token: h.token };
        });
      case 'set-value':
        return this.request(c.sessionId, c.seq, false, () => {
          if (!this.holds.some((x) => x.name === c.name && x.sid === c.sessionId)) return fail('NOT_HOLDER');
          this.setValue(c.name, hex(c.value));
          return { ok: true, type: 'set-value', name: c.name };
        });
      case 'cancel-wait': {
        const w = this.waits.find((x) => x.wid === c.waiterId);
        if (!w) return { ok: true, type: 'cancel-wait', waiterId: c.waiterId, cancelled: false };
        this.waits = this.waits.filter((x) => x !== w);
        const s = this.session(w.sid);
        if (s && s.lastSeq === w.seq) s.lastResult = fail('WAIT_TIMEOUT');
        this.settle(w.name, index);
        return { ok: true, type: 'cancel-wait', waiterId: c.waiterId, cancelled: true };
      }
      case 'end-lock-delay': {
        const d = this.delays.find((x) => x.name === c.name);
        if (!d || (c.since !== undefined && c.since !== d.since)) return { ok: true, type: 'end-lock-delay', name: c.name, ended: false };
        this.delays = this.delays.filter((x) => x !== d);
        this.settle(c.name, index);
        return { ok: true, type: 'end-lock-delay', name: c.name, ended: true };
      }
    }
  }

  session(id: number): MSession | undefined {
    return this.sessions.find((s) => s.id === id);
  }

  private request(sid: number, seq: number, isClose: boolean, run: () => Norm): Norm {
    const s = this.session(sid);
    if (!s) return this.missing(sid, seq, isClose);
    if (seq === s.lastSeq && s.lastResult) return s.lastResult;
    if (seq < s.lastSeq) return fail('STALE_REQUEST');
    const r = run();
    if (this.session(sid)) {
      s.lastSeq = seq;
      s.lastResult = r;
    }
    return r;
  }

  private missing(sid: number, seq: number | null, isClose: boolean): Norm {
    const remembered = this.endedMemory === 0 ? [] : this.ended.slice(-this.endedMemory);
    const e = remembered.find((x) => x.sid === sid);
    if (!e) return fail('SESSION_NOT_FOUND');
    if (isClose && e.reason === 'closed' && e.closeSeq === seq && e.closeResult) return e.closeResult;
    return fail(e.reason === 'expired' ? 'SESSION_EXPIRED' : 'SESSION_NOT_FOUND');
  }

  private acquire(c: Extract<LockCommand, { type: 'acquire' }>, index: number): Norm {
    const mine = this.holds.find((h) => h.name === c.name && h.sid === c.sessionId);
    if (mine) {
      if (mine.mode !== c.mode) return fail('UPGRADE_REFUSED');
      if (c.value !== undefined) this.setValue(c.name, hex(c.value));
      return { ok: true, type: 'acquire', status: 'granted', name: c.name, mode: c.mode, sessionId: c.sessionId, token: mine.token, alreadyHeld: true };
    }
    const queued = this.waits.find((w) => w.name === c.name && w.sid === c.sessionId);
    if (queued) {
      if (queued.mode !== c.mode) return fail('INVALID_ARGUMENT');
      if (c.waitMs === 0) return fail('LOCK_HELD');
      queued.seq = c.seq;
      queued.waitMs = c.waitMs;
      if (c.value !== undefined) queued.value = hex(c.value);
      return { ok: true, type: 'acquire', status: 'queued', name: c.name, mode: c.mode, sessionId: c.sessionId, waiterId: queued.wid };
    }
    const holders = this.holds.filter((h) => h.name === c.name);
    const queue = this.waits.filter((w) => w.name === c.name);
    const inDelay = this.delays.some((d) => d.name === c.name);
    const compatible = holders.length === 0 || (c.mode === 'shared' && holders.every((h) => h.mode === 'shared'));
    if (!inDelay && queue.length === 0 && compatible) {
      this.holds.push({ name: c.name, sid: c.sessionId, mode: c.mode, token: index });
      if (c.value !== undefined) this.setValue(c.name, hex(c.value));
      return { ok: true, type: 'acquire', status: 'granted', name: c.name, mode: c.mode, sessionId: c.sessionId, token: index, alreadyHeld: false };
    }
    if (c.waitMs === 0) return fail('LOCK_HELD');
    if (queue.length >= this.maxWaiters) return fail('TOO_MANY_WAITERS');
    this.waits.push({ wid: index, name: c.name, sid: c.sessionId, mode: c.mode, seq: c.seq, waitMs: c.waitMs, value: c.value === undefined ? null : hex(c.value) });
    return { ok: true, type: 'acquire', status: 'queued', name: c.name, mode: c.mode, sessionId: c.sessionId, waiterId: index };
  }

  private end(sid: number, reason: 'closed' | 'expired', delayMs: number, index: number): string[] {
    const touched = new Set<string>();
    for (const w of this.waits.filter((x) => x.sid === sid)) touched.add(w.name);
    this.waits = this.waits.filter((x) => x.sid !== sid);
    const mine = this.holds.filter((h) => h.sid === sid).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const h of mine) {
      this.dropHold(h);
      touched.add(h.name);
      if (reason === 'expired' && delayMs > 0) {
        this.delays = this.delays.filter((d) => d.name !== h.name);
        this.delays.push({ name: h.name, since: index });
      }
    }
    this.sessions = this.sessions.filter((s) => s.id !== sid);
    for (const name of [...touched].sort()) this.settle(name, index);
    return mine.map((h) => h.name);
  }

  private dropHold(h: MHold): void {
    this.holds = this.holds.filter((x) => x !== h);
    if (!this.holds.some((x) => x.name === h.name)) this.values = this.values.filter((v) => v.name !== h.name);
  }

  private setValue(name: string, value: string): void {
    this.values = this.values.filter((v) => v.name !== name);
    this.values.push({ name, value });
  }

  /** Grants the head of the queue while it is compatible; a shared grant continues with the next shared waiter. */
  private settle(name: string, index: number): void {
    if (this.delays.some((d) => d.name === name)) return;
    for (;;) {
      const head = this.waits.find((w) => w.name === name);
      if (!head) return;
      const holders = this.holds.filter((h) => h.name === name);
      const compatible = holders.length === 0 || (head.mode === 'shared' && holders.every((h) => h.mode === 'shared'));
      if (!compatible) return;
      this.waits = this.waits.filter((w) => w !== head);
      this.holds.push({ name, sid: head.sid, mode: head.mode, token: index });
      if (head.value !== null) this.setValue(name, head.value);
      this.grants.push({ waiterId: head.wid, sessionId: head.sid, name, token: index });
      const s = this.session(head.sid);
      if (s && s.lastSeq === head.seq) {
        s.lastResult = { ok: true, type: 'acquire', status: 'granted', name, mode: head.mode, sessionId: head.sid, token: index, alreadyHeld: false };
      }
      if (head.mode === 'exclusive') return;
    }
  }

  /** The model's view of every lock, comparable with LockStateMachine.listLocks(). */
  view(): Norm[] {
    const names = new Set([...this.holds.map((h) => h.name), ...this.waits.map((w) => w.name), ...this.delays.map((d) => d.name)]);
    return [...names].sort().map((name) => {
      const holders = this.holds.filter((h) => h.name === name);
      return {
        name,
        mode: holders[0]?.mode ?? null,
        holders: holders.map((h) => [h.sid, h.token]),
        waiters: this.waits.filter((w) => w.name === name).map((w) => [w.wid, w.sid, w.mode]),
        inDelay: this.delays.some((d) => d.name === name),
        value: this.values.find((v) => v.name === name)?.value ?? null,
      };
    });
  }
}

export { hex };
