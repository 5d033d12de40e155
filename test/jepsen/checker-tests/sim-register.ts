/**
 * Generates register histories (read/write/cas over a few keys) from a correct register under
 * random concurrency, optionally with one planted fault that makes the history definitely not
 * linearizable. Written values are unique, which is what makes a planted fault definite.
 */

import { Sim, type SimOp, type SimParams, type SimProcess, type Simulated } from './sim-kit.js';

/** A fault to plant. */
export type RegisterFault = 'stale-read' | 'lost-write';

interface RegOp extends SimOp {
  readonly key: string;
  readonly value?: number;
  readonly from?: number | null;
  readonly to?: number;
  /** The value this op wrote, once applied (writes, and cas that swapped). */
  wrote?: number;
}

/** Generates a register history; `keys` is 1..3. */
export function simulateRegister(params: SimParams, keys: number, fault?: RegisterFault): Simulated {
  const sim = new Sim<RegOp>(params);
  const names = ['a', 'b', 'c'].slice(0, Math.max(1, Math.min(3, keys)));
  const cur = new Map<string, { value: number | null; writer: RegOp | undefined }>(names.map((k) => [k, { value: null, writer: undefined }]));
  const written: number[] = [];
  let uniq = 0;
  const reg = (k: string) => cur.get(k) ?? { value: null, writer: undefined };

  const apply = (op: RegOp, faulty = false): boolean => {
    const c = reg(op.key);
    if (op.f === 'read') op.result = { value: c.value };
    else if (op.f === 'write') {
      op.wrote = op.value;
      if (!faulty) cur.set(op.key, { value: op.value ?? null, writer: op });
    } else {
      const swapped = c.value === op.from;
      op.result = swapped;
      if (swapped) {
        op.wrote = op.to;
        cur.set(op.key, { value: op.to ?? null, writer: op });
      }
    }
    op.state = 'linearized';
    return true;
  };

  const start = (proc: SimProcess<RegOp>): void => {
    const key = sim.pick(names) ?? 'a';
    const roll = sim.rng.next();
    if (roll < 0.4) sim.invoke(proc, 'read', { key }, (i) => ({ pid: proc.pid, f: 'read', key, invokeIdx: i, state: 'pending' }));
    else if (roll < 0.8) {
      const value = ++uniq;
      written.push(value);
      sim.invoke(proc, 'write', { key, value }, (i) => ({ pid: proc.pid, f: 'write', key, value, invokeIdx: i, state: 'pending' }));
    } else {
      const from = sim.rng.next() < 0.6 ? reg(key).value : (sim.pick(written) ?? null);
      const to = ++uniq;
      written.push(to);
      sim.invoke(proc, 'cas', { key, from, to }, (i) => ({ pid: proc.pid, f: 'cas', key, from, to, invokeIdx: i, state: 'pending' }));
    }
  };

  const readNow = (key: string, value: number | null): void => {
    sim.immediate('read', { key }, (pid, i) => ({ pid, f: 'read', key, invokeIdx: i, state: 'pending' }), (op) => {
      op.state = 'linearized';
      op.result = { value };
    });
  };
  const writeNow = (key: string, faulty: boolean): RegOp => {
    const value = ++uniq;
    return sim.immediate('write', { key, value }, (pid, i) => ({ pid, f: 'write', key, value, invokeIdx: i, state: 'pending' }), (op) => apply(op, faulty));
  };

  /** Reads a value that was definitely overwritten before the read began. */
  const plantStaleRead = (): boolean => {
    for (const key of names) {
      const done = sim.ops.filter((o) => o.key === key && o.state === 'done' && o.wrote !== undefined);
      const stale: Array<number | null> = done.length > 0 ? [null] : [];
      for (const old of done) if (done.some((n) => n !== old && n.invokeIdx > (old.okIdx ?? Infinity))) stale.push(old.wrote ?? null);
      const v = sim.pick(stale);
      if (v === undefined) continue;
      readNow(key, v);
      return true;
    }
    return false;
  };

  /** A write acknowledged but lost, shown by a read right after it; needs the current value's writer to be acknowledged. */
  const plantLostWrite = (): boolean => {
    for (const key of names) {
      const c = reg(key);
      if (c.writer !== undefined && c.writer.state !== 'done') continue;
      writeNow(key, true);
      readNow(key, c.value);
      return true;
    }
    return false;
  };

  const plantAt = fault === undefined ? Infinity : sim.rng.int(Math.ceil(params.steps * 0.6));
  let planted = false;
  for (let step = 0; step < params.steps; step++) {
    if (!planted && step >= plantAt) planted = fault === 'stale-read' ? plantStaleRead() : plantLostWrite();
    sim.runOne(sim.genericActions(start, (op) => apply(op)));
  }
  const plantedDuring = planted;
  if (fault !== undefined && !planted) {
    const key = names[0] ?? 'a';
    if (fault === 'stale-read') {
      writeNow(key, false);
      writeNow(key, false);
      if (!plantStaleRead()) throw new Error('stale read could not be planted');
    } else if (!plantLostWrite()) {
      writeNow(key, false);
      if (!plantLostWrite()) throw new Error('lost write could not be planted');
    }
  }
  return { history: sim.history(), planted: fault === undefined ? 'none' : plantedDuring ? 'during' : 'after' };
}
