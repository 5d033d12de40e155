import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyRecorder, median, percentile } from '../../bench/stats.js';

describe('percentile (nearest rank)', () => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks the ranked sample, never an interpolation', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 51)).toBe(3);
    expect(percentile([7], 1)).toBe(7);
  });

  it('refuses no samples and p outside (0, 100]', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('is a sample, monotone in p, and has at least p% of samples at or below it', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 100 }), (xs, p) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const v = percentile(sorted, p);
        expect(sorted).toContain(v);
        expect(sorted.filter((x) => x <= v).length / sorted.length).toBeGreaterThanOrEqual(p / 100);
        if (p < 100) expect(percentile(sorted, p + 1)).toBeGreaterThanOrEqual(v);
      }),
    );
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the middle two', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('LatencyRecorder', () => {
  it('summarises what was recorded, beyond its initial capacity, in numeric order', () => {
    const r = new LatencyRecorder();
    expect(r.summary()).toBeNull();
    for (let i = 5000; i >= 1; i--) r.record(i / 10);
    const s = r.summary();
    expect(s).not.toBeNull();
    expect(s?.count).toBe(5000);
    expect(s?.p50).toBe(250);
    expect(s?.p99).toBe(495);
    expect(s?.max).toBe(500);
    expect(s?.mean).toBeCloseTo(250.05, 6);
  });

  it('forgets everything on reset (end of warm-up)', () => {
    const r = new LatencyRecorder();
    r.record(1000);
    r.reset();
    r.record(2);
    expect(r.summary()).toMatchObject({ count: 1, p50: 2, max: 2 });
  });

  it('refuses samples that are not finite non-negative numbers', () => {
    const r = new LatencyRecorder();
    expect(() => r.record(-1)).toThrow(RangeError);
    expect(() => r.record(Number.NaN)).toThrow(RangeError);
    expect(() => r.record(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(r.count).toBe(0);
  });
});
