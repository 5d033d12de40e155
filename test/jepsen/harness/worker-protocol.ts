/**
 * The IPC protocol between the harness and its client worker processes. A worker never stamps
 * history times itself: it asks the harness to record an invoke and waits for the `ack` before it
 * calls the SDK (so the recorded invoke precedes the real one), and reports completions, which
 * the harness stamps on receipt (after the real one). Register reads and writes are served by the
 * harness atomically. Lanes are a worker's independent sequential op streams; the harness maps
 * each lane to a history process number, and moves it to a fresh number after an `info`.
 */
import { HarnessError } from './harness-error.js';
import { WORKLOADS, type WorkloadName } from './options.js';

/** What a worker does; the roles depend on the workload. */
export const WORKER_ROLES = ['mutex', 'holder', 'checker', 'candidate', 'observer', 'contender'] as const;
/** A worker role. */
export type WorkerRole = (typeof WORKER_ROLES)[number];

/** A sequencer as it travels between processes (ids as decimal strings). */
export interface SequencerJson {
  readonly name: string;
  readonly token: string;
  readonly sessionId: string;
}

/** Everything a worker needs to run. */
export interface WorkerConfig {
  readonly slot: number;
  readonly workload: WorkloadName;
  readonly role: WorkerRole;
  readonly endpoints: readonly string[];
  /** CLOCK_MONOTONIC origin of the run, in ns as a decimal string. */
  readonly originNs: string;
  readonly seed: number;
  readonly ttlMs: number;
  /** The sessions' drift margin (SDK `driftMarginMs`). */
  readonly driftMarginMs: number;
  readonly lockDelayMs: number;
  readonly locks: readonly string[];
  /** The election's name (election workload). */
  readonly election: string;
  /** How long an acquire or campaign waits. */
  readonly waitMs: number;
}

/** Completion outcomes. */
export type Outcome = 'ok' | 'fail' | 'info';

/** Harness → worker. */
export type ToWorker =
  | { readonly type: 'start'; readonly config: WorkerConfig }
  | { readonly type: 'ack'; readonly id: number }
  | { readonly type: 'register'; readonly id: number; readonly accepted: boolean | null; readonly value: unknown }
  | { readonly type: 'sequencers'; readonly list: readonly SequencerJson[] }
  | { readonly type: 'stop' };

/** Worker → harness. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'invoke'; readonly id: number; readonly lane: number; readonly f: string; readonly value: unknown }
  | { readonly type: 'complete'; readonly lane: number; readonly outcome: Outcome; readonly value: unknown; readonly error?: string }
  /** An instantaneous observation: recorded as an invoke (with `value`) and its ok (with `result`) at once. */
  | { readonly type: 'note'; readonly lane: number; readonly f: string; readonly value: unknown; readonly result: unknown }
  | { readonly type: 'write'; readonly id: number; readonly lane: number; readonly key: string; readonly token: number; readonly value: string }
  | { readonly type: 'read'; readonly id: number; readonly lane: number; readonly key: string }
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'stopped' };

function rec(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new HarnessError('PROTOCOL', `${what} must be an object`);
  return x as Record<string, unknown>;
}

function int(r: Record<string, unknown>, k: string, what: string, min = 0): number {
  const v = r[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new HarnessError('PROTOCOL', `${what}: "${k}" must be an integer >= ${min}`);
  return v;
}

function str(r: Record<string, unknown>, k: string, what: string): string {
  const v = r[k];
  if (typeof v !== 'string' || v.length === 0) throw new HarnessError('PROTOCOL', `${what}: "${k}" must be a non-empty string`);
  return v;
}

/** Validates a message from a worker; throws HarnessError PROTOCOL naming the problem. */
export function parseFromWorker(x: unknown): FromWorker {
  const r = rec(x, 'worker message');
  const what = `worker message ${JSON.stringify(r.type)}`;
  switch (r.type) {
    case 'ready':
    case 'stopped':
      return { type: r.type };
    case 'invoke':
      return { type: 'invoke', id: int(r, 'id', what), lane: int(r, 'lane', what), f: str(r, 'f', what), value: r.value ?? null };
    case 'complete': {
      const outcome = r.outcome as Outcome;
      if (outcome !== 'ok' && outcome !== 'fail' && outcome !== 'info') throw new HarnessError('PROTOCOL', `${what}: "outcome" must be ok, fail or info`);
      if (r.error !== undefined && typeof r.error !== 'string') throw new HarnessError('PROTOCOL', `${what}: "error" must be a string`);
      const base = { type: 'complete' as const, lane: int(r, 'lane', what), outcome, value: r.value ?? null };
      return typeof r.error === 'string' ? { ...base, error: r.error } : base;
    }
    case 'note':
      return { type: 'note', lane: int(r, 'lane', what), f: str(r, 'f', what), value: r.value ?? null, result: r.result ?? null };
    case 'write': {
      const value = r.value;
      if (typeof value !== 'string') throw new HarnessError('PROTOCOL', `${what}: "value" must be a string`);
      return { type: 'write', id: int(r, 'id', what), lane: int(r, 'lane', what), key: str(r, 'key', what), token: int(r, 'token', what, Number.MIN_SAFE_INTEGER), value };
    }
    case 'read':
      return { type: 'read', id: int(r, 'id', what), lane: int(r, 'lane', what), key: str(r, 'key', what) };
    case 'log':
      return { type: 'log', message: typeof r.message === 'string' ? r.message : JSON.stringify(r.message) };
    default:
      throw new HarnessError('PROTOCOL', `unknown worker message type ${JSON.stringify(r.type)}`);
  }
}

/** Validates a message from the harness (in the worker); throws HarnessError PROTOCOL. */
export function parseToWorker(x: unknown): ToWorker {
  const r = rec(x, 'harness message');
  const what = `harness message ${JSON.stringify(r.type)}`;
  switch (r.type) {
    case 'start':
      return { type: 'start', config: parseConfig(r.config) };
    case 'ack':
      return { type: 'ack', id: int(r, 'id', what) };
    case 'register': {
      const accepted = r.accepted;
      if (accepted !== null && typeof accepted !== 'boolean') throw new HarnessError('PROTOCOL', `${what}: "accepted" must be a boolean or null`);
      return { type: 'register', id: int(r, 'id', what), accepted, value: r.value ?? null };
    }
    case 'sequencers': {
      if (!Array.isArray(r.list)) throw new HarnessError('PROTOCOL', `${what}: "list" must be an array`);
      return { type: 'sequencers', list: r.list.map((s) => parseSequencer(s)) };
    }
    case 'stop':
      return { type: 'stop' };
    default:
      throw new HarnessError('PROTOCOL', `unknown harness message type ${JSON.stringify(r.type)}`);
  }
}

function parseSequencer(x: unknown): SequencerJson {
  const r = rec(x, 'sequencer');
  const token = str(r, 'token', 'sequencer');
  const sessionId = str(r, 'sessionId', 'sequencer');
  if (!/^\d+$/.test(token) || !/^\d+$/.test(sessionId)) throw new HarnessError('PROTOCOL', 'sequencer ids must be decimal strings');
  return { name: str(r, 'name', 'sequencer'), token, sessionId };
}

function parseConfig(x: unknown): WorkerConfig {
  const r = rec(x, 'worker config');
  const what = 'worker config';
  const workload = r.workload;
  if (typeof workload !== 'string' || !(WORKLOADS as readonly string[]).includes(workload)) throw new HarnessError('PROTOCOL', `${what}: bad workload`);
  const role = r.role;
  if (typeof role !== 'string' || !(WORKER_ROLES as readonly string[]).includes(role)) throw new HarnessError('PROTOCOL', `${what}: bad role`);
  const strings = (k: string): string[] => {
    const v = r[k];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) throw new HarnessError('PROTOCOL', `${what}: "${k}" must be an array of strings`);
    return v as string[];
  };
  const originNs = str(r, 'originNs', what);
  if (!/^\d+$/.test(originNs)) throw new HarnessError('PROTOCOL', `${what}: "originNs" must be a decimal string`);
  return {
    slot: int(r, 'slot', what),
    workload: workload as WorkloadName,
    role: role as WorkerRole,
    endpoints: strings('endpoints'),
    originNs,
    seed: int(r, 'seed', what),
    ttlMs: int(r, 'ttlMs', what, 1),
    driftMarginMs: int(r, 'driftMarginMs', what),
    lockDelayMs: int(r, 'lockDelayMs', what),
    locks: strings('locks'),
    election: str(r, 'election', what),
    waitMs: int(r, 'waitMs', what, 1),
  };
}
