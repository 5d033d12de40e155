import { afterEach, describe, expect, it, vi } from 'vitest';
import { FULL_DEFAULTS, QUICK_DEFAULTS } from '../../bench/args.js';
import { ErrorTally } from '../../bench/error-tally.js';
import { variantParams, variantsOf, variantTitle } from '../../bench/variants.js';
import { CriticalSection } from '../../bench/workload-contended.js';
import { GrantWatch } from '../../bench/workload-failover.js';
import { shardSizes } from '../../bench/workload-sessions.js';
import { lockDecision, sequenceOf } from '../../bench/zk-lock-order.js';
import { zooCfg } from '../../bench/zk-cluster.js';
import { BenchTimeoutError, forEachLimited, withTimeout } from '../../bench/timeout.js';

describe('ZooKeeper lock recipe decision', () => {
  const a = '_c_aaaa-lock-0000000007';
  const b = '_c_bbbb-lock-0000000003';
  const c = 'lock-0000000012';

  it('reads the 10-digit sequence of contender nodes only', () => {
    expect(sequenceOf(a)).toBe(7);
    expect(sequenceOf(c)).toBe(12);
    expect(sequenceOf('other-0000000001')).toBeNull();
    expect(sequenceOf('lock-12')).toBeNull();
  });

  it('grants the lowest sequence and has every other contender watch the one just before it', () => {
    const kids = [c, a, 'unrelated', b];
    expect(lockDecision(kids, b)).toEqual({ type: 'acquired' });
    expect(lockDecision(kids, a)).toEqual({ type: 'wait', predecessor: b });
    expect(lockDecision(kids, c)).toEqual({ type: 'wait', predecessor: a });
  });

  it('reports our node gone as lost', () => {
    expect(lockDecision([a], b)).toEqual({ type: 'lost' });
    expect(lockDecision([], a)).toEqual({ type: 'lost' });
  });

  it('writes a zoo.cfg with the ensemble on loopback and default durability', () => {
    const cfg = zooCfg({ dataDir: '/d', clientPort: 1, servers: [{ id: 1, quorumPort: 2, electionPort: 3 }, { id: 2, quorumPort: 4, electionPort: 5 }] });
    expect(cfg.split('\n')).toEqual(expect.arrayContaining(['dataDir=/d', 'clientPort=1', 'clientPortAddress=127.0.0.1', 'server.1=127.0.0.1:2:3', 'server.2=127.0.0.1:4:5', 'tickTime=2000']));
    expect(cfg).not.toContain('forceSync=no');
  });
});

describe('CriticalSection', () => {
  it('counts an entry that finds someone inside as a violation', () => {
    const s = new CriticalSection();
    s.enter();
    s.leave();
    s.enter();
    expect(s.violations).toBe(0);
    s.enter();
    expect(s.violations).toBe(1);
    s.leave();
    s.leave();
    expect(s.entries).toBe(3);
    s.enter();
    expect(s.violations).toBe(1);
  });
});

describe('GrantWatch', () => {
  it('ignores grants before the kill and of acquires issued before it', () => {
    const w = new GrantWatch();
    w.grant(0, 5);
    expect(w.gapMs()).toBeNull();
    w.arm(100);
    w.grant(90, 150); // issued before the kill: may have committed before it
    expect(w.gapMs()).toBeNull();
    w.grant(120, 400);
    w.grant(130, 300);
    expect(w.gapMs()).toBe(200);
  });

  it('starts over on each arm', () => {
    const w = new GrantWatch();
    w.arm(0);
    w.grant(1, 10);
    w.arm(1000);
    expect(w.gapMs()).toBeNull();
    w.grant(1001, 1500);
    expect(w.gapMs()).toBe(500);
  });
});

describe('shardSizes', () => {
  it('splits sessions into near-equal shards of at most the per-holder limit', () => {
    expect(shardSizes(500)).toEqual([500]);
    expect(shardSizes(5_000)).toEqual([5_000]);
    expect(shardSizes(5_001)).toEqual([2501, 2500]);
    const s = shardSizes(50_000);
    expect(s).toHaveLength(10);
    expect(s.reduce((a, b) => a + b, 0)).toBe(50_000);
    expect(shardSizes(7, 3)).toEqual([3, 2, 2]);
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => shardSizes(0)).toThrow(RangeError);
    expect(() => shardSizes(1.5)).toThrow(RangeError);
  });
});

describe('variants', () => {
  it('lists every workload variant of the full run in order', () => {
    expect(variantsOf(FULL_DEFAULTS).map(variantTitle)).toEqual([
      'uncontended, C=16',
      'uncontended, C=64',
      'contended, C=16 on one lock',
      'failover, 8 clients, 3 leader kills',
      'sessions, S=10000, TTL 15 s, held 60 s',
      'sessions, S=50000, TTL 15 s, held 60 s',
    ]);
    expect(variantsOf(QUICK_DEFAULTS)).toHaveLength(5);
    expect(variantsOf({ ...FULL_DEFAULTS, workloads: ['contended'] })).toEqual([{ type: 'contended', clients: 16 }]);
  });

  it('describes parameters for the JSON', () => {
    expect(variantParams({ type: 'failover', clients: 4, trials: 1 })).toEqual({ workload: 'failover', clients: 4, trials: 1 });
  });
});

describe('ErrorTally', () => {
  it('counts only what it is told to and keeps the first three distinct messages', () => {
    const t = new ErrorTally();
    t.add(new Error('a'), false);
    t.add(new Error('a'), true);
    t.add(new TypeError('b'), true);
    t.add('c', true);
    t.add(new Error('d'), true);
    expect(t.count).toBe(4);
    expect(t.notes()).toEqual(['errors seen (first 3): Error: a | TypeError: b | c']);
    expect(new ErrorTally().notes()).toEqual([]);
  });
});

describe('withTimeout and forEachLimited', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rejects with BenchTimeoutError after the timeout and hands a late result to onLate', async () => {
    vi.useFakeTimers();
    let resolveLate!: (v: string) => void;
    const late = new Promise<string>((r) => {
      resolveLate = r;
    });
    const seen: string[] = [];
    const p = withTimeout(late, 100, 'acquire x', (v) => seen.push(v));
    const assertion = expect(p).rejects.toThrow(BenchTimeoutError);
    await vi.advanceTimersByTimeAsync(100);
    await assertion;
    resolveLate('granted');
    await Promise.resolve();
    await Promise.resolve();
    expect(seen).toEqual(['granted']);
  });

  it('passes through results and errors that come in time, and never times out without a limit', async () => {
    vi.useFakeTimers();
    await expect(withTimeout(Promise.resolve(5), 100, 'x')).resolves.toBe(5);
    await expect(withTimeout(Promise.reject(new Error('no')), 100, 'x')).rejects.toThrow('no');
    const p = new Promise<number>(() => undefined);
    expect(withTimeout(p, undefined, 'x')).toBe(p);
  });

  it('runs at most `limit` calls at once and visits every item', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await Promise.resolve();
      await Promise.resolve();
      seen.push(n);
      running--;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('stops taking items once the signal aborts', async () => {
    const ctl = new AbortController();
    const seen: number[] = [];
    await forEachLimited(
      [1, 2, 3, 4],
      1,
      async (n) => {
        seen.push(n);
        if (n === 2) ctl.abort();
      },
      ctl.signal,
    );
    expect(seen).toEqual([1, 2]);
  });
});
