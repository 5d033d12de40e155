import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HistoryRecorder, pairHistory } from '../checker/index.js';
import { FencedRegister } from '../harness/fenced-register.js';
import { MonoClock } from '../harness/mono-clock.js';
import { WorkerPool } from '../harness/worker-pool.js';
import type { WorkerConfig } from '../harness/worker-protocol.js';
import { until } from './net-helpers.js';

const dirs: string[] = [];
const pools: WorkerPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.stopAll(0);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): { pool: WorkerPool; recorder: HistoryRecorder; register: FencedRegister; logs: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'jepsen-pool-'));
  dirs.push(dir);
  const clock = new MonoClock();
  const recorder = new HistoryRecorder(clock);
  const register = new FencedRegister();
  const logs: string[] = [];
  const pool = new WorkerPool({ recorder, register, clock, script: resolve(import.meta.dirname, 'fake-worker.ts'), logPrefix: join(dir, 'w'), log: (l) => logs.push(l) });
  pools.push(pool);
  return { pool, recorder, register, logs };
}

function config(slot: number, script: string): WorkerConfig {
  return { slot, workload: 'mutex', role: 'mutex', endpoints: ['127.0.0.1:1'], originNs: '0', seed: 1, ttlMs: 1_000, driftMarginMs: 250, lockDelayMs: 0, locks: ['a'], election: script, waitMs: 100 };
}

describe('WorkerPool', () => {
  it('records a worker’s ops, moves a lane to a new process after info, and serves the fenced register', async () => {
    const { pool, recorder, register, logs } = setup();
    await pool.start(config(0, 'script'));
    await until(() => recorder.history().some((o) => o.f === 'exit' && o.type === 'ok'), 'the scripted exit', 20_000);
    const h = recorder.history();
    const enters = pairHistory(h).filter((p) => p.f === 'enter');
    expect(enters.map((p) => p.outcome)).toEqual(['info', 'ok']);
    expect(enters[0]!.process).not.toBe(enters[1]!.process);
    const writes = h.filter((o) => o.f === 'write' && o.type === 'ok').map((o) => o.value);
    expect(writes).toEqual([{ accepted: true }, { accepted: false }]);
    expect(register.read('a')).toBe('v');
    await until(() => logs.some((l) => l.includes('accepted=true stale=false value=v')), 'the worker log line', 5_000);
    await pool.stopAll(10_000);
    expect(pool.exits()).toMatchObject([{ slot: 0, code: 0, killed: false }]);
    expect(() => pairHistory(recorder.history())).not.toThrow();
  });

  it('on SIGKILL of a holder, records an exit {killed: true} with an unknown outcome', async () => {
    const { pool, recorder } = setup();
    await pool.start(config(3, 'hold'));
    await until(() => recorder.history().some((o) => o.f === 'held'), 'the holder to prove its lock', 20_000);
    expect(pool.holdingSlots()).toEqual([3]);
    await pool.kill(3);
    const h = recorder.history();
    const last = h.slice(-2);
    expect(last.map((o) => [o.type, o.f])).toEqual([
      ['invoke', 'exit'],
      ['info', 'exit'],
    ]);
    expect(last[0]!.value).toEqual({ name: 'a', token: 7, killed: true });
    expect(pool.exits()).toMatchObject([{ slot: 3, killed: true, signal: 'SIGKILL' }]);
    expect(pool.holdingSlots()).toEqual([]);
    expect(() => pairHistory(h)).not.toThrow();
  });
});
