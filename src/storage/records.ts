/**
 * Shape checks for everything storage accepts or reads back: entries, hard state, snapshot
 * metadata, identity and the snapshot record. Each `parse*` rebuilds a fresh object holding only
 * the known fields (so stored values never alias a caller's object) or throws RecordError.
 * Callers turn a RecordError into StorageArgumentError (bad input) or StorageFatalError (bad disk).
 */
import { isIndex, isNodeId } from '../common/ids.js';
import type { ConfChange, ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.js';
import { StorageArgumentError } from './errors.js';
import type { NodeIdentity } from './types.js';

/** A value does not have the expected shape; `message` says which field and why. */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

/** The stored description of a snapshot: its Raft metadata and how its bytes are chunked. */
export interface SnapshotRecord {
  readonly meta: SnapshotMeta;
  /** Total length of the snapshot bytes. */
  readonly size: number;
  /** Length of every chunk but the last. */
  readonly chunkSize: number;
  /** Number of chunks (0 for an empty snapshot). */
  readonly chunks: number;
  /** CRC-32 of the whole snapshot bytes. */
  readonly crc: number;
}

/** The storage format marker written once into a fresh data dir. */
export interface FormatRecord {
  readonly format: number;
}

/** Largest clusterId accepted, in characters. */
const MAX_CLUSTER_ID = 256;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function obj(x: unknown, what: string): Record<string, unknown> {
  if (!isObject(x)) throw new RecordError(`${what} is not an object`);
  return x;
}

function index(x: unknown, what: string): number {
  if (!isIndex(x)) throw new RecordError(`${what} is not a non-negative safe integer (${String(x)})`);
  return x;
}

function positive(x: unknown, what: string): number {
  const n = index(x, what);
  if (n < 1) throw new RecordError(`${what} must be ≥ 1 (got ${n})`);
  return n;
}

function nodeId(x: unknown, what: string): string {
  if (!isNodeId(x)) throw new RecordError(`${what} is not a valid node id (${JSON.stringify(x)})`);
  return x;
}

function bytes(x: unknown, what: string): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new RecordError(`${what} is not a byte array`);
  return x;
}

/** Copies bytes into a fresh, unshared Uint8Array. */
export function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function confChange(x: unknown, what: string): ConfChange {
  const o = obj(x, what);
  const node = nodeId(o['node'], `${what}.node`);
  const type = o['type'];
  switch (type) {
    case 'add-learner':
    case 'add-voter': {
      if (o['context'] === undefined || o['context'] === null) return { type, node };
      return { type, node, context: copyBytes(bytes(o['context'], `${what}.context`)) };
    }
    case 'promote':
    case 'remove':
      return { type, node };
    default:
      throw new RecordError(`${what}.type is unknown (${JSON.stringify(type)})`);
  }
}

/** Checks and copies one log entry (index and term ≥ 1). */
export function parseEntry(x: unknown, what = 'entry'): Entry {
  const o = obj(x, what);
  const term = positive(o['term'], `${what}.term`);
  const idx = positive(o['index'], `${what}.index`);
  const type = o['type'];
  switch (type) {
    case 'normal':
      return { type, term, index: idx, data: copyBytes(bytes(o['data'], `${what}.data`)) };
    case 'conf':
      return { type, term, index: idx, change: confChange(o['change'], `${what}.change`) };
    case 'noop':
      return { type, term, index: idx };
    default:
      throw new RecordError(`${what}.type is unknown (${JSON.stringify(type)})`);
  }
}

/** Checks and copies a hard state. */
export function parseHardState(x: unknown, what = 'hard state'): HardState {
  const o = obj(x, what);
  const vote = o['vote'];
  return {
    term: index(o['term'], `${what}.term`),
    vote: vote === null || vote === undefined ? null : nodeId(vote, `${what}.vote`),
    commit: index(o['commit'], `${what}.commit`),
  };
}

function nodeList(x: unknown, what: string): readonly string[] {
  if (!Array.isArray(x)) throw new RecordError(`${what} is not an array`);
  return x.map((n: unknown, i) => nodeId(n, `${what}[${i}]`));
}

function confState(x: unknown, what: string): ConfState {
  const o = obj(x, what);
  return { voters: nodeList(o['voters'], `${what}.voters`), learners: nodeList(o['learners'], `${what}.learners`) };
}

/** Checks and copies snapshot metadata (index and term ≥ 1). */
export function parseSnapshotMeta(x: unknown, what = 'snapshot meta'): SnapshotMeta {
  const o = obj(x, what);
  return {
    index: positive(o['index'], `${what}.index`),
    term: positive(o['term'], `${what}.term`),
    confState: confState(o['confState'], `${what}.confState`),
  };
}

/** Checks and copies a node identity. */
export function parseIdentity(x: unknown, what = 'identity'): NodeIdentity {
  const o = obj(x, what);
  const clusterId = o['clusterId'];
  if (typeof clusterId !== 'string' || clusterId.length === 0 || clusterId.length > MAX_CLUSTER_ID) {
    throw new RecordError(`${what}.clusterId must be a string of 1–${MAX_CLUSTER_ID} characters`);
  }
  return { clusterId, nodeId: nodeId(o['nodeId'], `${what}.nodeId`) };
}

/** Checks a stored snapshot record, including that size, chunkSize and chunks agree. */
export function parseSnapshotRecord(x: unknown, what = 'snapshot record'): SnapshotRecord {
  const o = obj(x, what);
  const size = index(o['size'], `${what}.size`);
  const chunkSize = positive(o['chunkSize'], `${what}.chunkSize`);
  const chunks = index(o['chunks'], `${what}.chunks`);
  const crc = index(o['crc'], `${what}.crc`);
  if (chunks !== Math.ceil(size / chunkSize)) {
    throw new RecordError(`${what}: ${chunks} chunks cannot hold ${size} bytes in chunks of ${chunkSize}`);
  }
  if (crc > 0xffffffff) throw new RecordError(`${what}.crc is out of range`);
  return { meta: parseSnapshotMeta(o['meta'], `${what}.meta`), size, chunkSize, chunks, crc };
}

/** Checks the format marker. */
export function parseFormat(x: unknown): FormatRecord {
  const o = obj(x, 'format marker');
  return { format: positive(o['format'], 'format marker.format') };
}

/** Checks and copies a snapshot (metadata and bytes). */
export function parseSnapshot(x: unknown, what = 'snapshot'): Snapshot {
  const o = obj(x, what);
  return { meta: parseSnapshotMeta(o['meta'], `${what}.meta`), data: copyBytes(bytes(o['data'], `${what}.data`)) };
}

/** A checked, copied StorageWrite. */
export interface ParsedWrite {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
}

/** Checks and copies a StorageWrite (each part's shape; the log rules are LogShape's job). */
export function parseStorageWrite(x: unknown): ParsedWrite {
  const o = obj(x, 'write');
  const raw = o['entries'];
  if (!Array.isArray(raw)) throw new RecordError('write.entries is not an array');
  const entries = raw.map((e: unknown, i) => parseEntry(e, `write.entries[${i}]`));
  const hs = o['hardState'] === undefined ? undefined : parseHardState(o['hardState'], 'write.hardState');
  const snap = o['snapshot'] === undefined ? undefined : parseSnapshot(o['snapshot'], 'write.snapshot');
  return { entries, ...(hs ? { hardState: hs } : {}), ...(snap ? { snapshot: snap } : {}) };
}

/** Runs a parse of a caller's input; a RecordError becomes the StorageArgumentError the port promises. */
export function parseInput<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof RecordError) throw new StorageArgumentError(err.message);
    throw err;
  }
}
