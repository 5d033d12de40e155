/** Builders of report figures shared by the workloads. */
import type { LatencySummary } from './stats.js';
import type { Figure } from './types.js';

/** The p50/p95/p99 figures of a latency summary, keyed `<prefix>_p50` etc. */
export function latencyFigures(prefix: string, label: string, s: LatencySummary | null): Figure[] {
  return ([50, 95, 99] as const).map((p) => ({
    key: `${prefix}_p${p}`,
    label: `${label} p${p}`,
    better: 'lower' as const,
    unit: 'ms',
    value: s === null ? null : s[`p${p}`],
  }));
}
