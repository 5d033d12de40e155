import { describe, expect, it } from 'vitest';
import { pairHistory, type History } from '../checker/history.js';
import { checkLinearizability } from '../checker/linearizability.js';
import { lockModel, registerModel } from '../checker/models.js';
import { paramsOf } from './sim-kit.js';
import { simulateLock } from './sim-lock.js';
import { simulateRegister } from './sim-register.js';

/** Grows the step count until the history has at least `ops` ops. */
function atLeast(ops: number, make: (steps: number) => History): History {
  for (let steps = ops * 3; ; steps = Math.ceil(steps * 1.2)) {
    const h = make(steps);
    if (pairHistory(h).length >= ops) return h;
  }
}

describe('performance sanity', () => {
  it('checks a 2 000-op single-register history of 8 processes, with unknown outcomes, well inside the budget', () => {
    const h = atLeast(2000, (steps) => simulateRegister(paramsOf(20240601, 8, steps, 0.01, 0.02), 1).history);
    const paired = pairHistory(h);
    expect(paired.filter((p) => p.outcome === 'info').length).toBeGreaterThan(0);
    const res = checkLinearizability(registerModel(), h, { timeoutMs: 20_000 });
    expect(res.valid).toBe(true);
    expect(res.ops).toBeGreaterThanOrEqual(2000 - paired.filter((p) => p.outcome === 'fail').length);
  });

  it('checks a 2 000-op lock history of 8 processes well inside the budget', () => {
    const h = atLeast(2000, (steps) => simulateLock(paramsOf(7, 8, steps, 0.01, 0.05), 2).history);
    expect(checkLinearizability(lockModel, h, { timeoutMs: 20_000 }).valid).toBe(true);
  });
});
