import { describe, expect, it } from 'vitest';
import { bestPeerValue, formatNumber, formatRatio, latchRatio, renderReport, renderVariant, resultsJson, variantRatios } from '../../bench/report.js';
import type { Figure, VariantResult } from '../../bench/types.js';

const fig = (key: string, better: Figure['better'], value: number | null, unit?: string): Figure => ({ key, label: key.replace(/_/g, ' '), better, value, ...(unit ? { unit } : {}) });

const variant: VariantResult = {
  workload: 'uncontended',
  title: 'uncontended, C=16',
  params: { workload: 'uncontended', clients: 16 },
  outcomes: {
    latch: { type: 'ok', figures: [fig('cycles_per_s', 'higher', 300), fig('acquire_p99', 'lower', 8, 'ms'), fig('errors', 'zero', 0)] },
    etcd: { type: 'ok', figures: [fig('cycles_per_s', 'higher', 100), fig('acquire_p99', 'lower', 20, 'ms'), fig('errors', 'zero', 0)] },
    zk: { type: 'ok', figures: [fig('cycles_per_s', 'higher', 200), fig('acquire_p99', 'lower', 10, 'ms'), fig('errors', 'zero', 2)], notes: ['a note'] },
  },
};

describe('best peer and ratio', () => {
  it('takes the highest peer for higher-is-better and the lowest otherwise, ignoring missing values', () => {
    expect(bestPeerValue('higher', [100, null, 200])).toBe(200);
    expect(bestPeerValue('lower', [20, 10, null])).toBe(10);
    expect(bestPeerValue('zero', [3, 0])).toBe(0);
    expect(bestPeerValue('higher', [null, Number.NaN])).toBeNull();
  });

  it('divides Latch by the best peer, and gives no ratio for zero-figures, missing values or a best of 0', () => {
    expect(latchRatio('higher', 300, 200)).toBe(1.5);
    expect(latchRatio('lower', 8, 10)).toBe(0.8);
    expect(latchRatio('zero', 0, 0)).toBeNull();
    expect(latchRatio('higher', null, 200)).toBeNull();
    expect(latchRatio('higher', 300, null)).toBeNull();
    expect(latchRatio('lower', 5, 0)).toBeNull();
  });

  it('computes the ratios of a variant per figure', () => {
    expect(variantRatios(variant, ['latch', 'etcd', 'zk'])).toEqual({ cycles_per_s: 1.5, acquire_p99: 0.8, errors: null });
  });
});

describe('formatting', () => {
  it('shows integers as they are and other numbers with about three significant digits', () => {
    expect(formatNumber(1234)).toBe('1234');
    expect(formatNumber(1234.56)).toBe('1235');
    expect(formatNumber(12.345)).toBe('12.3');
    expect(formatNumber(1.2345)).toBe('1.23');
    expect(formatRatio(1.2)).toBe('1.20×');
    expect(formatRatio(null)).toBe('—');
  });
});

describe('renderVariant', () => {
  it('renders one row per figure with each system and the ratio, and the notes below', () => {
    const md = renderVariant(variant, ['latch', 'etcd', 'zk']);
    const lines = md.split('\n');
    expect(lines[0]).toBe('### uncontended, C=16');
    expect(lines[2]).toBe('| figure | better | Latch | etcd | ZooKeeper | Latch / best peer |');
    expect(lines).toContain('| cycles per s | ↑ | 300 | 100 | 200 | 1.50× |');
    expect(lines).toContain('| acquire p99 (ms) | ↓ | 8 | 20 | 10 | 0.80× |');
    expect(lines).toContain('| errors | = 0 | 0 | 0 | 2 | — |');
    expect(lines).toContain('- ZooKeeper: a note');
  });

  it('marks skipped, failed and not-run systems and says why', () => {
    const v: VariantResult = {
      ...variant,
      outcomes: { latch: { type: 'skipped', reason: 'not built' }, etcd: variant.outcomes.etcd!, zk: { type: 'failed', error: 'boom' } },
    };
    const md = renderVariant(v, ['latch', 'etcd', 'zk']);
    expect(md).toContain('| cycles per s | ↑ | skipped | 100 | failed | — |');
    expect(md).toContain('- Latch skipped: not built');
    expect(md).toContain('- ZooKeeper failed: boom');
    expect(renderVariant({ ...variant, outcomes: {} }, ['etcd'])).toContain('| (no figures) | | not run | — |');
    expect(renderVariant({ ...variant, outcomes: { latch: { type: 'failed', error: 'x' } } }, ['latch', 'zk'])).toContain('| (no figures) | | failed | not run | — |');
  });

  it('renders only the selected systems', () => {
    const md = renderVariant(variant, ['etcd', 'zk']);
    expect(md).not.toContain('| Latch |');
    expect(md).toContain('| cycles per s | ↑ | 100 | 200 | — |');
  });
});

describe('renderReport and resultsJson', () => {
  const info = { startedAt: '2026-01-01T00:00:00.000Z', machine: '2 × test CPU', quick: true, settings: { etcd: 'defaults' }, versions: { etcd: 'etcd 3.4.23' } };

  it('states the machine and that the figures are ratios in one run', () => {
    const md = renderReport(info, [variant], ['latch', 'etcd', 'zk']);
    expect(md).toContain('## Lock benchmark (quick) — 2026-01-01T00:00:00.000Z');
    expect(md).toContain('Machine: 2 × test CPU. Ratios compare systems within this one run; they are not absolute promises.');
    expect(md).toContain('- etcd: etcd 3.4.23; defaults');
    expect(md).toContain('### uncontended, C=16');
  });

  it('puts the same figures and the ratios in the JSON', () => {
    const json = resultsJson(info, [variant], ['latch', 'etcd', 'zk']) as { variants: { ratios: Record<string, number | null>; outcomes: unknown }[]; systems: string[] };
    expect(json.systems).toEqual(['latch', 'etcd', 'zk']);
    expect(json.variants[0]?.ratios).toEqual({ cycles_per_s: 1.5, acquire_p99: 0.8, errors: null });
    expect(json.variants[0]?.outcomes).toEqual(variant.outcomes);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});
