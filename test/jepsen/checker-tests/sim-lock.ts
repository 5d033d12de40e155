/**
 * Generates lock histories (acquire, try-acquire, release, check over one or two names) from a
 * correct lock service under random concurrency, optionally with one planted fault that makes the
 * history definitely not linearizable.
 */

import { Sim, type SimOp, type SimParams, type SimProcess, type Simulated } from './sim-kit.js';

/** A fault to plant. */
export type LockFault = 'double-grant' | 'token-backwards' | 'stale-sequencer';

interface LockOp extends SimOp {
  readonly name: string;
  readonly token?: number;
  /** The token granted, once applied. */
  granted?: number;
  /** For releases: whether it released. */
  released?: boolean;
}

interface LockCell {
  holder: { token: number; op: LockOp } | undefined;
  last: number;
  granted: number[];
}

/** Generates a lock history over `names` (1 or 2) locks. */
export function simulateLock(params: SimParams, names: number, fault?: LockFault): Simulated {
  /** What each live process believes it holds: name -> token. */
  const holds = new Map<number, Map<string, number>>();
  const heldBy = (pid: number): Map<string, number> => {
    let m = holds.get(pid);
    if (!m) holds.set(pid, (m = new Map()));
    return m;
  };
  const sim = new Sim<LockOp>(params, {
    onComplete: (pid, op) => {
      if (op.granted !== undefined) heldBy(pid).set(op.name, op.granted);
      if (op.f === 'release') heldBy(pid).delete(op.name);
    },
    onCrash: (oldPid) => void dead.add(oldPid),
    blocked: (op) => op.f === 'acquire' && cell(op.name).holder !== undefined,
  });
  /** Processes that crashed: the service expires their sessions, releasing what they held. */
  const dead = new Set<number>();
  const lockNames = ['x', 'y'].slice(0, Math.max(1, Math.min(2, names)));
  const cells = new Map<string, LockCell>(lockNames.map((n) => [n, { holder: undefined, last: 0, granted: [] }]));
  const cell = (n: string): LockCell => cells.get(n) ?? { holder: undefined, last: 0, granted: [] };
  const zombies = new Set<number>();

  const grantTo = (op: LockOp, token: number): void => {
    const c = cell(op.name);
    c.holder = { token, op };
    c.last = Math.max(c.last, token);
    c.granted.push(token);
    op.granted = token;
  };

  const apply = (op: LockOp): boolean => {
    const c = cell(op.name);
    switch (op.f) {
      case 'acquire':
        if (c.holder !== undefined) return false; // blocks until the lock is free
        grantTo(op, c.last + 1 + sim.rng.int(3));
        op.result = { token: op.granted };
        break;
      case 'try-acquire':
        if (c.holder === undefined) {
          grantTo(op, c.last + 1 + sim.rng.int(3));
          op.result = { acquired: true, token: op.granted };
        } else op.result = { acquired: false };
        break;
      case 'release':
        op.released = c.holder?.token === op.token;
        if (op.released) c.holder = undefined;
        op.result = op.released ? null : { released: false };
        break;
      default:
        op.result = c.holder?.token === op.token;
    }
    op.state = 'linearized';
    return true;
  };

  const start = (proc: SimProcess<LockOp>): void => {
    if (zombies.has(proc.pid)) return;
    const name = sim.pick(lockNames) ?? 'x';
    const mine = heldBy(proc.pid).get(name);
    const make = (f: string, token?: number) => (i: number): LockOp => ({ pid: proc.pid, f, name, token, invokeIdx: i, state: 'pending' });
    const roll = sim.rng.next();
    if (mine !== undefined) {
      const f = roll < 0.6 ? 'release' : 'check';
      sim.invoke(proc, f, { name, token: mine }, make(f, mine));
    } else if (roll < 0.45) sim.invoke(proc, 'acquire', { name }, make('acquire'));
    else if (roll < 0.75) sim.invoke(proc, 'try-acquire', { name }, make('try-acquire'));
    else {
      const token = sim.pick(cell(name).granted) ?? 1;
      sim.invoke(proc, 'check', { name, token }, make('check', token));
    }
  };

  const immediateGrant = (name: string, token: number): void => {
    sim.immediate('acquire', { name }, (pid, i) => ({ pid, f: 'acquire', name, invokeIdx: i, state: 'pending' }), (o) => {
      grantTo(o, token);
      o.result = { token };
      o.state = 'linearized';
    });
  };

  /** A second holder while the first, whose grant was acknowledged, has not begun to release. */
  const plantDoubleGrant = (): boolean => {
    for (const name of lockNames) {
      const h = cell(name).holder;
      if (h === undefined || h.op.state !== 'done') continue;
      const holder = sim.procs.find((p) => p.pid === h.op.pid);
      if (holder === undefined || heldBy(holder.pid).get(name) !== h.token) continue;
      if (holder.op !== undefined && holder.op.f === 'release') continue;
      zombies.add(holder.pid); // it keeps believing it holds the lock, and never releases
      immediateGrant(name, cell(name).last + 1);
      return true;
    }
    return false;
  };

  /** A grant with a lower token than one already acknowledged. */
  const plantTokenBackwards = (): boolean => {
    for (const name of lockNames) {
      const c = cell(name);
      if (c.holder !== undefined) continue;
      if (!sim.ops.some((o) => o.name === name && o.state === 'done' && o.granted !== undefined)) continue;
      immediateGrant(name, Math.min(...c.granted) - 1);
      return true;
    }
    return false;
  };

  /** A check that calls a sequencer current after its release was acknowledged. */
  const plantStaleSequencer = (): boolean => {
    const rel = sim.pick(sim.ops.filter((o) => o.f === 'release' && o.state === 'done' && o.released === true));
    if (rel === undefined || rel.token === undefined) return false;
    const { name, token } = rel;
    sim.immediate('check', { name, token }, (pid, i) => ({ pid, f: 'check', name, token, invokeIdx: i, state: 'pending' }), (o) => {
      o.result = true;
      o.state = 'linearized';
    });
    return true;
  };

  /** A watcher sees the service expire a crashed client's lock (the only way such a lock frees). */
  const expire = (name: string): void => {
    const h = cell(name).holder;
    if (h === undefined) return;
    const token = h.token;
    sim.immediate('expire', { name, token }, (pid, i) => ({ pid, f: 'expire', name, token, invokeIdx: i, state: 'pending' }), (o) => {
      cell(name).holder = undefined;
      o.state = 'linearized';
    }, watcher);
  };
  const watcher = sim.spawn();

  const plant = (): boolean => (fault === 'double-grant' ? plantDoubleGrant() : fault === 'token-backwards' ? plantTokenBackwards() : plantStaleSequencer());
  const plantAt = fault === undefined ? Infinity : sim.rng.int(Math.ceil(params.steps * 0.6));
  let planted = false;
  for (let step = 0; step < params.steps; step++) {
    if (!planted && step >= plantAt) planted = plant();
    const acts = sim.genericActions(start, apply);
    for (const name of lockNames) {
      const h = cell(name).holder;
      if (h !== undefined && dead.has(h.op.pid)) acts.push({ weight: 0.5, run: () => expire(name) });
    }
    sim.runOne(acts);
  }
  const plantedDuring = planted;
  if (fault !== undefined && !planted) {
    // Make room on a fresh lock so the fault can be planted deterministically.
    const name = 'z';
    lockNames.push(name);
    cells.set(name, { holder: undefined, last: 0, granted: [] });
    immediateGrant(name, 5);
    const holder = sim.procs[sim.procs.length - 1];
    if (fault !== 'double-grant' && holder !== undefined) {
      sim.immediate('release', { name, token: 5 }, (pid, i) => ({ pid, f: 'release', name, token: 5, invokeIdx: i, state: 'pending' }), (o) => void apply(o), holder);
    }
    planted = plant();
    if (!planted) throw new Error(`${fault} could not be planted`);
  }
  return { history: sim.history(), planted: fault === undefined ? 'none' : plantedDuring ? 'during' : 'after' };
}
