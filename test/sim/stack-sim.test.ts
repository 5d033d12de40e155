/**
 * The stack simulator (production RaftNode + LatchService + the real lock state machine on one
 * virtual clock) over random schedules: no exclusion, token or lease violation with lock-delay 0,
 * exact replay from a seed, and enough happening to matter.
 */
import { describe, expect, it } from 'vitest';
import { runStackSchedule } from './stack-sim.js';

describe('stack simulation (the production node and service on virtual time)', () => {
  it('finds no violation in 25 schedules at the server defaults with lock-delay 0, and exercises faults, grants and expiries', async () => {
    const totals: Record<string, number> = {};
    for (let seed = 1; seed <= 25; seed++) {
      const r = await runStackSchedule(seed);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      const v = r.violations[0];
      if (v !== undefined) throw new Error(`${v.kind} at ${v.at}: ${v.detail} (replay: npm run sim -- --stack --seed ${seed})`);
    }
    for (const k of ['grants', 'releases', 'keepalives', 'sessionsExpired', 'crashes', 'partitions']) expect(totals[k] ?? 0, k).toBeGreaterThan(20);
  });

  it('finds no violation when the TTL is close to the election timeout (ttl 1.2 s, election 1 s) or far above it', async () => {
    for (const params of [{ ttlMs: 1200 }, { ttlMs: 6000, faultEveryMs: 2500 }]) {
      for (let seed = 100; seed < 106; seed++) {
        const v = (await runStackSchedule(seed, params)).violations[0];
        if (v !== undefined) throw new Error(`${JSON.stringify(params)} seed ${seed}: ${v.kind} at ${v.at}: ${v.detail}`);
      }
    }
  });

  it('replays a schedule exactly from its seed', async () => {
    const a = await runStackSchedule(3, {}, true);
    const b = await runStackSchedule(3, {}, true);
    expect(a.trace.length).toBeGreaterThan(20);
    expect(b.trace).toEqual(a.trace);
    expect(b.stats).toEqual(a.stats);
    expect((await runStackSchedule(4, {}, true)).trace).not.toEqual(a.trace);
  });
});
