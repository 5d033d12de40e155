/** Builders and comparison helpers shared by the storage tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, HardState, Snapshot, SnapshotMeta } from '../../src/raft/types.js';
import type { StoredState } from '../../src/storage/types.js';

/** Deterministic bytes: `n` bytes derived from `seed`. */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A normal entry whose data identifies it. */
export function normal(index: number, term: number, size = 8): Entry {
  return { type: 'normal', index, term, data: bytes(size, index * 31 + term) };
}

/** Normal entries from..to (inclusive) in one term. */
export function ents(from: number, to: number, term: number, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(normal(i, term, size));
  return out;
}

/** Snapshot metadata with a fixed configuration. */
export function meta(index: number, term: number): SnapshotMeta {
  return { index, term, confState: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } };
}

/** A snapshot whose bytes identify it. */
export function snap(index: number, term: number, size = 64): Snapshot {
  return { meta: meta(index, term), data: bytes(size, index ^ (term << 8)) };
}

/** A hard state. */
export function hs(term: number, commit: number, vote: string | null = 'n1'): HardState {
  return { term, vote, commit };
}

/** Hex of bytes (Buffer and Uint8Array alike). */
export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A JSON-comparable copy of any value, with byte arrays as hex strings. */
export function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `0x${hex(v)}`;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = plain(x);
    return out;
  }
  return v;
}

/** A loaded state (or any part of one) in comparable form. */
export function plainState(s: StoredState | readonly Entry[]): unknown {
  return plain(s);
}

/** Indexes of the loaded entries. */
export function indexes(s: StoredState): number[] {
  return s.entries.map((e) => e.index);
}

/** A fresh temporary directory path (the directory exists) and a remover. */
export function tempDir(prefix = 'latch-storage-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
