/**
 * The IPC messages between the sessions workload and its session-holder child processes
 * (bench/session-holder.ts), and a check of what arrives (IPC input is not trusted blindly).
 */
import { SYSTEM_IDS, type SessionCounters, type SystemId } from './types.js';

/** Parent → holder. */
export type ToHolder =
  | { readonly type: 'start'; readonly system: SystemId; readonly endpoints: readonly string[]; readonly count: number; readonly ttlMs: number }
  | { readonly type: 'report' }
  | { readonly type: 'close' };

/** Holder → parent. */
export type FromHolder =
  | { readonly type: 'progress'; readonly counters: SessionCounters }
  | { readonly type: 'opened'; readonly counters: SessionCounters }
  | { readonly type: 'closed'; readonly counters: SessionCounters }
  | { readonly type: 'error'; readonly message: string };

function isCounters(v: unknown): v is SessionCounters {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return ['opened', 'keepalives', 'expiries', 'openErrors'].every((k) => typeof c[k] === 'number');
}

/** The message as a `ToHolder`, or undefined if it is not one. */
export function asToHolder(msg: unknown): ToHolder | undefined {
  if (typeof msg !== 'object' || msg === null) return undefined;
  const m = msg as Record<string, unknown>;
  if (m.type === 'close') return { type: 'close' };
  if (m.type === 'report') return { type: 'report' };
  if (m.type !== 'start') return undefined;
  const system = SYSTEM_IDS.find((s) => s === m.system);
  if (system === undefined || !Array.isArray(m.endpoints) || !m.endpoints.every((e) => typeof e === 'string')) return undefined;
  if (typeof m.count !== 'number' || !Number.isSafeInteger(m.count) || m.count <= 0) return undefined;
  if (typeof m.ttlMs !== 'number' || !Number.isFinite(m.ttlMs) || m.ttlMs <= 0) return undefined;
  return { type: 'start', system, endpoints: m.endpoints as string[], count: m.count, ttlMs: m.ttlMs };
}

/** The message as a `FromHolder`, or undefined if it is not one. */
export function asFromHolder(msg: unknown): FromHolder | undefined {
  if (typeof msg !== 'object' || msg === null) return undefined;
  const m = msg as Record<string, unknown>;
  if (m.type === 'error') return typeof m.message === 'string' ? { type: 'error', message: m.message } : undefined;
  if ((m.type === 'progress' || m.type === 'opened' || m.type === 'closed') && isCounters(m.counters)) return { type: m.type, counters: m.counters };
  return undefined;
}
