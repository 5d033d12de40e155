/**
 * Generates election histories from a correct election service: candidates campaign (a win is a
 * grant with an increasing token), proclaim and resign; the service may depose a leader without
 * telling it (its proclaims then fail); observers follow the stream of leaders, possibly lagging
 * and skipping, and query the current leader. Optionally one planted fault makes it definitely wrong.
 */

import { Sim, type SimOp, type SimParams, type SimProcess, type Simulated } from './sim-kit.js';

/** A fault to plant. */
export type ElectionFault = 'double-grant' | 'token-backwards' | 'observer-reorder' | 'stale-leader';

interface ElectOp extends SimOp {
  readonly token?: number;
  granted?: number;
}

/** Generates an election history; the first `observers` processes only observe. */
export function simulateElection(params: SimParams, observers: number, fault?: ElectionFault): Simulated {
  /** The token each candidate believes it leads with. */
  const believes = new Map<number, number>();
  const sim = new Sim<ElectOp>(params, {
    onComplete: (pid, op) => {
      if (op.granted !== undefined) believes.set(pid, op.granted);
      if (op.f === 'resign') believes.delete(pid);
    },
    blocked: (op) => op.f === 'campaign' && leader !== undefined,
  });
  const observerPids = new Set(sim.procs.slice(0, observers).map((p) => p.pid));
  const cursor = new Map<number, number>();
  let leader: number | undefined;
  let last = 0;
  const grants: number[] = [];

  const apply = (op: ElectOp): boolean => {
    switch (op.f) {
      case 'campaign':
        if (leader !== undefined) return false;
        leader = last = last + 1 + sim.rng.int(2);
        grants.push(last);
        op.granted = last;
        op.result = { token: last };
        break;
      case 'proclaim': {
        if (leader !== op.token) {
          // Rejected: nothing happened; the candidate learns it is no longer leader.
          const proc = sim.procs.find((p) => p.op === op);
          if (proc) {
            sim.fail(proc);
            believes.delete(proc.pid);
          } else op.state = 'dropped';
          return true;
        }
        break;
      }
      case 'resign':
        if (leader === op.token) leader = undefined;
        break;
      case 'observe': {
        const from = cursor.get(op.pid) ?? 0;
        if (grants.length === 0) op.result = { token: null };
        else {
          const i = Math.max(from, grants.length - 1 - sim.rng.int(Math.max(1, grants.length - from)));
          cursor.set(op.pid, i);
          op.result = { token: grants[i] };
        }
        break;
      }
      default:
        op.result = { token: leader ?? null };
    }
    op.state = 'linearized';
    return true;
  };

  const start = (proc: SimProcess<ElectOp>): void => {
    const make = (f: string, token?: number) => (i: number): ElectOp => ({ pid: proc.pid, f, token, invokeIdx: i, state: 'pending' });
    if (observerPids.has(proc.pid)) {
      const f = sim.rng.next() < 0.7 ? 'observe' : 'leader';
      sim.invoke(proc, f, null, make(f));
      return;
    }
    const mine = believes.get(proc.pid);
    if (mine === undefined) sim.invoke(proc, 'campaign', { value: `p${proc.pid}` }, make('campaign'));
    else if (sim.rng.next() < 0.7) sim.invoke(proc, 'proclaim', { token: mine, value: sim.rng.int(100) }, make('proclaim', mine));
    else sim.invoke(proc, 'resign', { token: mine }, make('resign', mine));
  };

  const fresh = (f: string, value: unknown, token: number | undefined, effect: (op: ElectOp) => void): ElectOp =>
    sim.immediate(f, value, (pid, i) => ({ pid, f, token, invokeIdx: i, state: 'pending' }), (op) => {
      effect(op);
      op.state = 'linearized';
    });
  const doneGrants = (): number[] => sim.ops.filter((o) => o.f === 'campaign' && o.state === 'done' && o.granted !== undefined).map((o) => o.granted ?? 0);

  const plants: Record<ElectionFault, () => boolean> = {
    'double-grant': () => {
      const token = sim.pick(doneGrants());
      if (token === undefined) return false;
      fresh('campaign', null, undefined, (op) => void (op.result = { token }));
      return true;
    },
    'token-backwards': () => {
      if (doneGrants().length === 0) return false;
      const token = Math.min(...grants) - 1;
      fresh('campaign', null, undefined, (op) => void (op.result = { token }));
      return true;
    },
    'observer-reorder': () => {
      const newest = grants[grants.length - 1];
      const oldest = grants[0];
      if (newest === undefined || oldest === undefined || newest === oldest) return false;
      const proc = sim.spawn();
      sim.procs.push(proc);
      observerPids.add(proc.pid);
      const see = (token: number) => sim.immediate('observe', null, (pid, i) => ({ pid, f: 'observe', invokeIdx: i, state: 'pending' }), (op) => {
        op.result = { token };
        op.state = 'linearized';
      }, proc);
      see(newest);
      see(oldest);
      return true;
    },
    'stale-leader': () => {
      const done = doneGrants();
      const newest = Math.max(...done);
      const stale = grants.find((t) => t < newest);
      if (done.length === 0 || stale === undefined) return false;
      fresh('proclaim', { token: stale, value: 'stale' }, stale, () => undefined);
      return true;
    },
  };

  const plantAt = fault === undefined ? Infinity : sim.rng.int(Math.ceil(params.steps * 0.6));
  let planted = false;
  for (let step = 0; step < params.steps; step++) {
    if (fault !== undefined && !planted && step >= plantAt) planted = plants[fault]();
    const acts = sim.genericActions(start, apply);
    // The service deposes the leader now and then (its session expired); the leader is not told.
    if (leader !== undefined) acts.push({ weight: 0.3, run: () => void (leader = undefined) });
    sim.runOne(acts);
  }
  const plantedDuring = planted;
  if (fault !== undefined && !planted) {
    for (let i = 0; i < 2; i++) {
      leader = undefined;
      fresh('campaign', null, undefined, (op) => void apply(op));
    }
    leader = undefined;
    if (!plants[fault]()) throw new Error(`${fault} could not be planted`);
  }
  return { history: sim.history(), planted: fault === undefined ? 'none' : plantedDuring ? 'during' : 'after' };
}
