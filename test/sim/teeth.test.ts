/**
 * Teeth: each planted testingFault must make the simulator report a safety violation within the
 * seed budget of its profile, and the same schedules without the fault must be clean.
 */
import { describe, expect, it } from 'vitest';
import { runSchedule } from './simulation.js';
import { TEETH } from './teeth-profiles.js';

describe('simulator teeth', () => {
  for (const t of TEETH) {
    it(`catches ${t.fault} within ${t.budget} schedules`, () => {
      let caught: { seed: number; kind: string } | undefined;
      for (let seed = 1; seed <= t.budget && caught === undefined; seed++) {
        const r = runSchedule(seed, { faults: { [t.fault]: true }, params: t.params });
        const v = r.violations[0];
        if (v !== undefined) caught = { seed, kind: v.kind };
      }
      expect(caught, `${t.fault} went unnoticed in ${t.budget} schedules`).toBeDefined();
      expect(t.expect).toContain(caught?.kind);
      // The violation is the fault's doing: the same schedule without it is clean.
      const control = runSchedule(caught?.seed ?? 1, { params: t.params });
      expect(control.violations).toEqual([]);
    });
  }
});
