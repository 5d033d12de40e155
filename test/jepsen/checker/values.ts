/**
 * Small helpers for the untyped JSON values that histories carry: canonical encoding (so two
 * equal values hash alike) and shape checks that raise `HistoryError` instead of crashing.
 */

import { HistoryError } from './history-error.js';

/** A plain JSON object (not an array, not null). */
export type JsonRecord = Readonly<Record<string, unknown>>;

/** True when `v` is a plain object (not null, not an array). */
export function isRecord(v: unknown): v is JsonRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Canonical JSON text of `v`: object keys sorted, `undefined` treated as `null`, so structurally
 * equal values give identical strings. Throws HistoryError on values JSON cannot carry.
 */
export function canonicalJson(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new HistoryError(`non-finite number ${String(v)} in a history value`);
      return JSON.stringify(v);
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
      const rec = v as Record<string, unknown>;
      const keys = Object.keys(rec).filter((k) => rec[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(rec[k])}`).join(',')}}`;
    }
    default:
      throw new HistoryError(`a ${typeof v} cannot appear in a history value`);
  }
}

/** A short, single-line rendering of a value for reports (canonical JSON, truncated). */
export function brief(v: unknown, max = 80): string {
  let s: string;
  try {
    s = canonicalJson(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The record `v`, or a HistoryError naming `what`. */
export function expectRecord(v: unknown, what: string): JsonRecord {
  if (!isRecord(v)) throw new HistoryError(`${what} must be an object, got ${brief(v)}`);
  return v;
}

/** `rec[field]` as a safe integer, or a HistoryError naming `what`. */
export function expectInt(rec: JsonRecord, field: string, what: string): number {
  const v = rec[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new HistoryError(`${what}: field "${field}" must be a safe integer, got ${brief(v)}`);
  return v;
}

/** `rec[field]` as a boolean, or a HistoryError naming `what`. */
export function expectBool(rec: JsonRecord, field: string, what: string): boolean {
  const v = rec[field];
  if (typeof v !== 'boolean') throw new HistoryError(`${what}: field "${field}" must be a boolean, got ${brief(v)}`);
  return v;
}

/** `rec[field]` as a non-empty string, `fallback` when absent, or a HistoryError naming `what`. */
export function optionalName(rec: JsonRecord | undefined, field: string, fallback: string, what: string): string {
  const v = rec?.[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v.length === 0) throw new HistoryError(`${what}: field "${field}" must be a non-empty string, got ${brief(v)}`);
  return v;
}
