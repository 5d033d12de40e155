/**
 * Generates fencing histories: clients enter critical sections through a correct lock service,
 * write to a correctly fenced resource, and exit. The service may expire a holder's grant without
 * the holder knowing (a zombie), whose later writes the resource must reject. Optionally one planted
 * fault makes the history definitely wrong.
 */

import { Sim, type SimOp, type SimParams, type SimProcess, type Simulated } from './sim-kit.js';

/** A fault to plant. */
export type FencingFault = 'stale-write' | 'double-grant' | 'token-backwards' | 'lost-write';

interface FenceOp extends SimOp {
  readonly token?: number;
  granted?: number;
  accepted?: boolean;
}

/** Generates a fencing history for one lock guarding one resource. */
export function simulateFencing(params: SimParams, fault?: FencingFault): Simulated {
  /** The token each process believes it holds, and how many writes it has left in its section. */
  const sections = new Map<number, { token: number; writes: number }>();
  const sim = new Sim<FenceOp>(params, {
    onComplete: (pid, op) => {
      if (op.f === 'enter' && op.granted !== undefined) sections.set(pid, { token: op.granted, writes: 1 + sim.rng.int(3) });
      if (op.f === 'exit') sections.delete(pid);
    },
    blocked: (op) => op.f === 'enter' && holder !== undefined,
  });
  let holder: number | undefined;
  let last = 0;
  let highest = 0;
  const granted: number[] = [];

  const apply = (op: FenceOp): boolean => {
    switch (op.f) {
      case 'enter':
        if (holder !== undefined) return false;
        holder = last = last + 1 + sim.rng.int(2);
        granted.push(last);
        op.granted = last;
        op.result = { token: last };
        break;
      case 'exit':
        if (holder === op.token) holder = undefined;
        break;
      default: {
        const token = op.token ?? 0;
        op.accepted = token >= highest;
        if (op.accepted) highest = token;
        op.result = { accepted: op.accepted };
      }
    }
    op.state = 'linearized';
    return true;
  };

  const start = (proc: SimProcess<FenceOp>): void => {
    const s = sections.get(proc.pid);
    const make = (f: string, token?: number) => (i: number): FenceOp => ({ pid: proc.pid, f, token, invokeIdx: i, state: 'pending' });
    if (s === undefined) sim.invoke(proc, 'enter', null, make('enter'));
    else if (s.writes > 0) {
      s.writes--;
      sim.invoke(proc, 'write', { token: s.token, value: `p${proc.pid}` }, make('write', s.token));
    } else sim.invoke(proc, 'exit', { token: s.token }, make('exit', s.token));
  };

  const fresh = (f: string, value: unknown, token: number | undefined, effect: (op: FenceOp) => void): FenceOp =>
    sim.immediate(f, value, (pid, i) => ({ pid, f, token, invokeIdx: i, state: 'pending' }), (op) => {
      effect(op);
      op.state = 'linearized';
    });

  const doneAccepted = (): FenceOp[] => sim.ops.filter((o) => o.f === 'write' && o.state === 'done' && o.accepted === true);

  const plants: Record<FencingFault, () => boolean> = {
    'stale-write': () => {
      const newer = sim.pick(doneAccepted());
      if (newer?.token === undefined) return false;
      const token = newer.token - 1;
      fresh('write', { token, value: 'stale' }, token, (op) => {
        op.accepted = true; // the fault: highest is not consulted
        op.result = { accepted: true };
      });
      return true;
    },
    'double-grant': () => {
      const token = sim.pick(sim.ops.filter((o) => o.f === 'enter' && o.state === 'done').map((o) => o.granted ?? 0));
      if (token === undefined) return false;
      fresh('enter', null, undefined, (op) => {
        op.granted = token;
        op.result = { token };
      });
      return true;
    },
    'token-backwards': () => {
      if (!sim.ops.some((o) => o.f === 'enter' && o.state === 'done')) return false;
      const token = Math.min(...granted) - 1;
      fresh('enter', null, undefined, (op) => {
        op.granted = token;
        op.result = { token };
      });
      return true;
    },
    'lost-write': () => {
      if (holder !== undefined) return false;
      const enter = fresh('enter', null, undefined, (op) => void apply(op));
      const token = enter.granted ?? 0;
      fresh('write', { token, value: 'lost' }, token, (op) => {
        op.accepted = false; // the fault: a current holder's write is refused
        op.result = { accepted: false };
      });
      return true;
    },
  };

  const plantAt = fault === undefined ? Infinity : sim.rng.int(Math.ceil(params.steps * 0.6));
  let planted = false;
  for (let step = 0; step < params.steps; step++) {
    if (fault !== undefined && !planted && step >= plantAt) planted = plants[fault]();
    const acts = sim.genericActions(start, apply);
    // The service expires the current grant now and then; the holder is not told.
    if (holder !== undefined) acts.push({ weight: 0.4, run: () => void (holder = undefined) });
    sim.runOne(acts);
  }
  const plantedDuring = planted;
  if (fault !== undefined && !planted) {
    holder = undefined;
    const enter = fresh('enter', null, undefined, (op) => void apply(op));
    const token = enter.granted ?? 0;
    fresh('write', { token, value: 'setup' }, token, (op) => void apply(op));
    holder = undefined;
    if (!plants[fault]()) throw new Error(`${fault} could not be planted`);
  }
  return { history: sim.history(), planted: fault === undefined ? 'none' : plantedDuring ? 'during' : 'after' };
}
