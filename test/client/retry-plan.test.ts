import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/common/rng.js';
import { InvalidArgumentError } from '../../src/client/errors.js';
import { EndpointSet, RetryPlan } from '../../src/client/retry-plan.js';

const EPS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
const BACKOFF = { initialMs: 100, maxMs: 800 };

describe('EndpointSet', () => {
  it('rejects empty lists and malformed endpoints', () => {
    expect(() => new EndpointSet([])).toThrow(InvalidArgumentError);
    expect(() => new EndpointSet(['localhost'])).toThrow(InvalidArgumentError);
    expect(() => new EndpointSet(['127.0.0.1:0'])).toThrow(InvalidArgumentError);
    expect(() => new EndpointSet(['127.0.0.1:70000'])).toThrow(InvalidArgumentError);
    expect(new EndpointSet(['[::1]:7001', 'db-1.internal:7001', 'db-1.internal:7001']).endpoints).toEqual(['[::1]:7001', 'db-1.internal:7001']);
  });

  it('learns hinted leaders, but only well-formed ones and a bounded number', () => {
    const set = new EndpointSet(EPS);
    set.noteLeader('not an address');
    expect(set.leader).toBeUndefined();
    for (let i = 0; i < 40; i++) set.noteLeader(`10.0.0.${i}:7001`);
    expect(set.endpoints.length).toBe(EPS.length + 16);
    set.noteLeader(EPS[1]!);
    expect(set.leader).toBe(EPS[1]);
    set.noteFailure(EPS[1]!);
    expect(set.leader).toBeUndefined();
  });
});

describe('RetryPlan', () => {
  it('tries the known leader first, then the others round-robin, without delay for one pass', () => {
    const set = new EndpointSet(EPS);
    set.noteLeader(EPS[1]!);
    const plan = new RetryPlan(set, BACKOFF, new SeededRng(1));
    const tried: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = plan.next();
      expect(a.delayMs).toBe(0);
      tried.push(a.endpoint);
      plan.failed(a.endpoint);
    }
    expect(tried).toEqual([EPS[1], EPS[2], EPS[0]]);
  });

  it('follows a latch-leader hint next, immediately', () => {
    const set = new EndpointSet(EPS);
    const plan = new RetryPlan(set, BACKOFF, new SeededRng(2));
    const first = plan.next();
    const other = EPS.find((e) => e !== first.endpoint)!;
    plan.failed(first.endpoint, other);
    expect(plan.next()).toEqual({ endpoint: other, delayMs: 0 });
    expect(set.leader).toBe(other);
  });

  it('ignores a hint that points at the endpoint that just refused', () => {
    const set = new EndpointSet(EPS);
    set.noteLeader(EPS[0]!);
    const plan = new RetryPlan(set, BACKOFF, new SeededRng(3));
    expect(plan.next().endpoint).toBe(EPS[0]);
    plan.failed(EPS[0]!, EPS[0]);
    expect(plan.next().endpoint).toBe(EPS[1]);
  });

  it('backs off exponentially with equal jitter after a full pass, capped, and resets on success', () => {
    const set = new EndpointSet(EPS);
    const plan = new RetryPlan(set, BACKOFF, new SeededRng(4));
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const a = plan.next();
      delays.push(a.delayMs);
      plan.failed(a.endpoint);
    }
    expect(delays.slice(0, 3)).toEqual([0, 0, 0]);
    const bases = [100, 200, 400, 800, 800, 800];
    delays.slice(3).forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(bases[i]! / 2);
      expect(d).toBeLessThan(bases[i]!);
    });
    plan.succeeded(EPS[2]!, true);
    expect(plan.failureCount).toBe(0);
    expect(plan.next()).toEqual({ endpoint: EPS[2], delayMs: 0 });
  });

  it('counts hint chasing as failures so that two nodes pointing at each other cannot spin', () => {
    const set = new EndpointSet(EPS.slice(0, 2));
    const plan = new RetryPlan(set, BACKOFF, new SeededRng(5));
    let delayed = false;
    for (let i = 0; i < 6 && !delayed; i++) {
      const a = plan.next();
      if (a.delayMs > 0) delayed = true;
      plan.failed(a.endpoint, a.endpoint === EPS[0] ? EPS[1] : EPS[0]);
    }
    expect(delayed).toBe(true);
  });

  it('is deterministic for a given seed', () => {
    const run = (): number[] => {
      const plan = new RetryPlan(new EndpointSet(EPS), BACKOFF, new SeededRng(42));
      const out: number[] = [];
      for (let i = 0; i < 8; i++) {
        const a = plan.next();
        out.push(a.delayMs);
        plan.failed(a.endpoint);
      }
      return out;
    };
    expect(run()).toEqual(run());
  });

  it('rejects an invalid backoff policy', () => {
    expect(() => new RetryPlan(new EndpointSet(EPS), { initialMs: 0, maxMs: 10 }, new SeededRng(1))).toThrow(InvalidArgumentError);
    expect(() => new RetryPlan(new EndpointSet(EPS), { initialMs: 100, maxMs: 10 }, new SeededRng(1))).toThrow(InvalidArgumentError);
  });
});
