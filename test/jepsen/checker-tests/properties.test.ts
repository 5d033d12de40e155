import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkElection } from '../checker/election.js';
import { checkFencing } from '../checker/fencing.js';
import type { History } from '../checker/history.js';
import { formatHistoryJsonl, parseHistoryJsonl } from '../checker/history-jsonl.js';
import { checkLinearizability, renderLinearizability } from '../checker/linearizability.js';
import { fencedRegisterModel, lockModel, registerModel } from '../checker/models.js';
import { simulateElection, type ElectionFault } from './sim-election.js';
import { simulateFencing, type FencingFault } from './sim-fencing.js';
import type { SimParams, Simulated } from './sim-kit.js';
import { simulateLock, type LockFault } from './sim-lock.js';
import { simulateRegister, type RegisterFault } from './sim-register.js';

/** Random concurrency: seeds, process counts, lengths, and rates of unknown and failed outcomes. */
const params: fc.Arbitrary<SimParams> = fc.record({
  seed: fc.integer(),
  processes: fc.integer({ min: 2, max: 5 }),
  steps: fc.integer({ min: 10, max: 140 }),
  infoRate: fc.constantFrom(0, 0.05, 0.15),
  failRate: fc.constantFrom(0, 0.1),
});

const RUNS = 120;
const FAULT_RUNS = 60;

/** The history also survives a JSONL round trip unchanged. */
function viaJsonl(h: History): History {
  return parseHistoryJsonl(formatHistoryJsonl(h));
}

/** How often a fault was planted among the concurrent ops rather than appended at the end. */
const planting = { during: 0, total: 0 };
function count(planted: Simulated['planted']): void {
  planting.total++;
  if (planted === 'during') planting.during++;
}
/** The generators must mostly plant faults mid-history, or the rejections would prove little. */
function expectMostlyDuring(): void {
  const { during, total } = planting;
  planting.during = planting.total = 0;
  expect(during / total).toBeGreaterThan(0.3);
}

function explain(h: History, text: string): string {
  return `${text}\n${formatHistoryJsonl(h)}`;
}

describe('generated register histories', () => {
  it('are linearizable when produced by a correct register', () => {
    fc.assert(
      fc.property(params, fc.integer({ min: 1, max: 3 }), (p, keys) => {
        const h = viaJsonl(simulateRegister(p, keys).history);
        const res = checkLinearizability(registerModel(), h);
        expect(res.valid, explain(h, renderLinearizability(res))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  for (const fault of ['stale-read', 'lost-write'] as RegisterFault[]) {
    it(`are rejected with a planted ${fault}`, () => {
      fc.assert(
        fc.property(params, fc.integer({ min: 1, max: 3 }), (p, keys) => {
          const { history: h, planted } = simulateRegister(p, keys, fault);
          count(planted);
          const res = checkLinearizability(registerModel(), h);
          expect(res.valid, explain(h, renderLinearizability(res))).toBe(false);
          expect(res.failure?.partition).toMatch(/^[abc]$/);
        }),
        { numRuns: FAULT_RUNS },
      );
      expectMostlyDuring();
    });
  }
});

describe('generated lock histories', () => {
  it('are linearizable when produced by a correct lock service', () => {
    fc.assert(
      fc.property(params, fc.integer({ min: 1, max: 2 }), (p, names) => {
        const h = viaJsonl(simulateLock(p, names).history);
        const res = checkLinearizability(lockModel, h);
        expect(res.valid, explain(h, renderLinearizability(res))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  for (const fault of ['double-grant', 'token-backwards', 'stale-sequencer'] as LockFault[]) {
    it(`are rejected with a planted ${fault}`, () => {
      fc.assert(
        fc.property(params, fc.integer({ min: 1, max: 2 }), (p, names) => {
          const { history: h, planted } = simulateLock(p, names, fault);
          count(planted);
          const res = checkLinearizability(lockModel, h);
          expect(res.valid, explain(h, renderLinearizability(res))).toBe(false);
        }),
        { numRuns: FAULT_RUNS },
      );
      expectMostlyDuring();
    });
  }
});

describe('generated fencing histories', () => {
  const expected: Record<FencingFault, string> = {
    'stale-write': 'stale-write-accepted',
    'double-grant': 'double-grant',
    'token-backwards': 'token-regression',
    'lost-write': 'unjustified-rejection',
  };

  it('pass the fencing checker, and their writes are linearizable for a fenced register', () => {
    fc.assert(
      fc.property(params, (p) => {
        const h = viaJsonl(simulateFencing(p).history);
        const res = checkFencing(h);
        expect(res.findings, formatHistoryJsonl(h)).toEqual([]);
        const lin = checkLinearizability(fencedRegisterModel, h.filter((op) => op.f === 'write'));
        expect(lin.valid, explain(h, renderLinearizability(lin))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  for (const fault of Object.keys(expected) as FencingFault[]) {
    it(`are rejected with a planted ${fault}`, () => {
      fc.assert(
        fc.property(params, (p) => {
          const { history: h, planted } = simulateFencing(p, fault);
          count(planted);
          const res = checkFencing(h);
          expect(res.valid).toBe(false);
          expect(res.findings.map((f) => f.type), formatHistoryJsonl(h)).toContain(expected[fault]);
          if (fault === 'stale-write' || fault === 'lost-write') {
            expect(checkLinearizability(fencedRegisterModel, h.filter((op) => op.f === 'write')).valid).toBe(false);
          }
        }),
        { numRuns: FAULT_RUNS },
      );
      expectMostlyDuring();
    });
  }
});

describe('generated election histories', () => {
  const expected: Record<ElectionFault, string> = {
    'double-grant': 'double-grant',
    'token-backwards': 'grant-order',
    'observer-reorder': 'observer-reorder',
    'stale-leader': 'stale-leader-accepted',
  };

  it('pass the election checker', () => {
    fc.assert(
      fc.property(params, fc.integer({ min: 1, max: 2 }), (p, observers) => {
        const h = viaJsonl(simulateElection(p, observers).history);
        expect(checkElection(h).findings, formatHistoryJsonl(h)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  for (const fault of Object.keys(expected) as ElectionFault[]) {
    it(`are rejected with a planted ${fault}`, () => {
      fc.assert(
        fc.property(params, fc.integer({ min: 1, max: 2 }), (p, observers) => {
          const { history: h, planted } = simulateElection(p, observers, fault);
          count(planted);
          const res = checkElection(h);
          expect(res.findings.map((f) => f.type), formatHistoryJsonl(h)).toContain(expected[fault]);
        }),
        { numRuns: FAULT_RUNS },
      );
      expectMostlyDuring();
    });
  }
});
