import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.js';
import { SeededRng } from '../../../src/common/rng.js';
import { NEMESES } from '../harness/options.js';
import { NemesisScheduler, PARTITION_SHAPES, describeSpec, planSchedule, type Episode, type ScheduleOptions } from '../harness/schedule.js';

const base: ScheduleOptions = {
  durationMs: 120_000,
  kinds: NEMESES,
  nodes: 3,
  warmupMs: 3_000,
  cooldownMs: 5_000,
  faultMs: 6_000,
  quietMs: 6_000,
  pauseMs: 5_000,
  restartPerNodeMs: 3_000,
};

describe('planSchedule', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = planSchedule(base, new SeededRng(7));
    const b = planSchedule(base, new SeededRng(7));
    const c = planSchedule(base, new SeededRng(8));
    expect(a).toEqual(b);
    expect(a.map((e) => describeSpec(e.spec))).not.toEqual(c.map((e) => describeSpec(e.spec)));
  });

  it('runs every enabled kind once before any kind repeats, without overlaps, inside warm-up and cool-down', () => {
    for (let seed = 0; seed < 50; seed++) {
      const plan = planSchedule(base, new SeededRng(seed));
      const firstRound = plan.slice(0, NEMESES.length).map((e) => e.spec.kind);
      expect(new Set(firstRound).size).toBe(NEMESES.length);
      expect(plan[0]!.startAt).toBe(base.warmupMs);
      for (const e of plan) {
        expect(e.healAt).toBeGreaterThan(e.startAt);
        expect(e.healAt).toBeLessThanOrEqual(base.durationMs - base.cooldownMs);
      }
      for (let i = 1; i < plan.length; i++) expect(plan[i]!.startAt).toBeGreaterThan(plan[i - 1]!.healAt);
    }
  });

  it('makes pauses outlast the given pause length and sizes rolling restarts by node count', () => {
    const plan = planSchedule({ ...base, nodes: 5 }, new SeededRng(3));
    const pause = plan.find((e) => e.spec.kind === 'pause')!;
    const roll = plan.find((e) => e.spec.kind === 'rolling-restart')!;
    expect(pause.healAt - pause.startAt).toBe(base.pauseMs);
    expect(roll.healAt - roll.startAt).toBe(5 * base.restartPerNodeMs);
  });

  it('cycles through every partition shape', () => {
    const plan = planSchedule({ ...base, durationMs: 600_000, kinds: ['partition'] }, new SeededRng(1));
    const shapes = plan.map((e) => (e.spec.kind === 'partition' ? e.spec.shape : undefined));
    expect(new Set(shapes)).toEqual(new Set(PARTITION_SHAPES));
  });

  it('fits short runs: a 40 s run with kill and partition gets both', () => {
    const plan = planSchedule({ ...base, durationMs: 40_000, kinds: ['kill', 'partition'], faultMs: 5_000, quietMs: 4_000 }, new SeededRng(11));
    expect(new Set(plan.map((e) => e.spec.kind))).toEqual(new Set(['kill', 'partition']));
  });

  it('alternates membership episodes between the leader and a random voter', () => {
    const plan = planSchedule({ ...base, durationMs: 300_000, kinds: ['membership'] }, new SeededRng(5));
    expect(plan.length).toBeGreaterThanOrEqual(4);
    expect(plan.map((e) => (e.spec.kind === 'membership' ? e.spec.target : undefined)).slice(0, 4)).toEqual(['leader', 'random', 'leader', 'random']);
    expect(describeSpec(plan[0]!.spec)).toBe('membership remove leader');
    expect(describeSpec(plan[1]!.spec)).toBe('membership remove random');
  });

  it('fits every kind into a 60 s run with the CI smoke settings, whatever the seed', () => {
    expect(NEMESES).toContain('membership');
    const smoke: ScheduleOptions = { ...base, durationMs: 60_000, faultMs: 3_000, quietMs: 2_000, pauseMs: 5_000, restartPerNodeMs: 3_000 };
    for (let seed = 0; seed < 200; seed++) {
      const plan = planSchedule(smoke, new SeededRng(seed));
      expect(new Set(plan.map((e) => e.spec.kind)), `seed ${seed}`).toEqual(new Set(NEMESES));
    }
  });

  it('plans nothing without kinds, or when nothing fits', () => {
    expect(planSchedule({ ...base, kinds: [] }, new SeededRng(1))).toEqual([]);
    expect(planSchedule({ ...base, durationMs: 9_000, kinds: ['pause'], pauseMs: 20_000 }, new SeededRng(1))).toEqual([]);
  });

  it('rejects negative or non-finite times', () => {
    expect(() => planSchedule({ ...base, faultMs: -1 }, new SeededRng(1))).toThrow(RangeError);
    expect(() => planSchedule({ ...base, durationMs: Number.NaN }, new SeededRng(1))).toThrow(RangeError);
  });
});

describe('NemesisScheduler', () => {
  const spec = { kind: 'kill', target: 'leader' } as const;
  const plan: Episode[] = [
    { id: 1, spec, startAt: 1_000, healAt: 3_000 },
    { id: 2, spec, startAt: 4_000, healAt: 6_000 },
  ];

  it('hands out each start and heal once, in order, as a manual clock passes them', () => {
    const clock = new ManualClock();
    const s = new NemesisScheduler(plan);
    const seen: string[] = [];
    while (clock.now() <= 7_000) {
      for (let a = s.next(clock.now()); a; a = s.next(clock.now())) seen.push(`${a.type}${a.episode.id}@${clock.now()}`);
      clock.advance(500);
    }
    expect(seen).toEqual(['start1@1000', 'heal1@3000', 'start2@4000', 'heal2@6000']);
    expect(s.done).toBe(true);
  });

  it('slides the rest of the plan after a late action, keeping episode and gap lengths', () => {
    const s = new NemesisScheduler(plan);
    expect(s.next(1_000)?.type).toBe('start');
    // The start took until 10 000 (e.g. a slow restart): the heal is 7 000 late.
    expect(s.next(10_000)).toMatchObject({ type: 'heal', episode: { id: 1 } });
    expect(s.delay).toBe(7_000);
    // The heal was quick (the caller is back at once); the quiet gap (1 000) is kept: episode 2 starts at 4 000 + 7 000.
    expect(s.next(10_000)).toBeUndefined();
    expect(s.next(10_999)).toBeUndefined();
    expect(s.next(11_000)).toMatchObject({ type: 'start', episode: { id: 2 } });
    expect(s.current?.id).toBe(2);
    // And lasts its planned 2 000.
    expect(s.next(12_999)).toBeUndefined();
    expect(s.next(13_000)).toMatchObject({ type: 'heal', episode: { id: 2 } });
    expect(s.done).toBe(true);
  });

  it('runs the quiet gap after a heal from when the heal was done', () => {
    const s = new NemesisScheduler(plan);
    expect(s.next(1_000)?.type).toBe('start');
    expect(s.next(3_000)).toMatchObject({ type: 'heal', episode: { id: 1 } });
    expect(s.delay).toBe(0);
    // The heal (e.g. a membership rejoin) took until 7 500: the 1 000 gap follows it.
    expect(s.next(7_500)).toBeUndefined();
    expect(s.delay).toBe(4_500);
    expect(s.next(8_499)).toBeUndefined();
    expect(s.next(8_500)).toMatchObject({ type: 'start', episode: { id: 2 } });
  });

  it('finish() heals the active episode and starts nothing more', () => {
    const s = new NemesisScheduler(plan);
    s.next(1_000);
    expect(s.finish()).toEqual([{ type: 'heal', episode: plan[0] }]);
    expect(s.next(100_000)).toBeUndefined();
    expect(s.finish()).toEqual([]);
    expect(s.done).toBe(true);
  });

  it('rejects overlapping or inverted plans', () => {
    expect(() => new NemesisScheduler([plan[0]!, { ...plan[1]!, startAt: 2_000 }])).toThrow(RangeError);
    expect(() => new NemesisScheduler([{ ...plan[0]!, healAt: 500 }])).toThrow(RangeError);
  });
});
