/** The workload variants a config asks for, in run order (pure). */
import type { BenchConfig } from './args.js';
import { assertNever } from '../src/common/assert.js';
import type { WorkloadId } from './types.js';

/** One workload with its parameters. */
export type Variant =
  | { readonly type: 'uncontended'; readonly clients: number }
  | { readonly type: 'contended'; readonly clients: number }
  | { readonly type: 'failover'; readonly clients: number; readonly trials: number }
  | { readonly type: 'sessions'; readonly sessions: number; readonly ttlMs: number; readonly holdMs: number };

/** Every variant of the selected workloads. */
export function variantsOf(cfg: BenchConfig): Variant[] {
  const out: Variant[] = [];
  for (const w of cfg.workloads) {
    switch (w) {
      case 'uncontended':
        for (const c of cfg.uncontendedClients) out.push({ type: 'uncontended', clients: c });
        break;
      case 'contended':
        out.push({ type: 'contended', clients: cfg.contendedClients });
        break;
      case 'failover':
        out.push({ type: 'failover', clients: cfg.failoverClients, trials: cfg.failoverTrials });
        break;
      case 'sessions':
        for (const s of cfg.sessionCounts) out.push({ type: 'sessions', sessions: s, ttlMs: cfg.sessionTtlMs, holdMs: cfg.sessionHoldMs });
        break;
      default:
        assertNever(w);
    }
  }
  return out;
}

/** The title of a variant's table, e.g. `uncontended, C=16`. */
export function variantTitle(v: Variant): string {
  switch (v.type) {
    case 'uncontended':
      return `uncontended, C=${v.clients}`;
    case 'contended':
      return `contended, C=${v.clients} on one lock`;
    case 'failover':
      return `failover, ${v.clients} clients, ${v.trials} leader kill${v.trials === 1 ? '' : 's'}`;
    case 'sessions':
      return `sessions, S=${v.sessions}, TTL ${v.ttlMs / 1000} s, held ${v.holdMs / 1000} s`;
    default:
      return assertNever(v);
  }
}

/** The variant's parameters for the JSON. */
export function variantParams(v: Variant): Record<string, number | string> {
  const { type, ...rest } = v;
  return { workload: type, ...rest };
}

/** The workload id of a variant. */
export function variantWorkload(v: Variant): WorkloadId {
  return v.type;
}
