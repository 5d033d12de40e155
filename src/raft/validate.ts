/**
 * Light shape checks for everything that reaches the core from outside: messages from the
 * transport, entries inside them, and the initial state read from storage. A message that fails
 * is dropped and counted by the core, never allowed to throw or corrupt state.
 */
import { isIndex, isNodeId } from '../common/index.js';
import { isConfChange, isConfState } from './conf.js';
import type { Entry, Message, MessageType, SnapshotMeta } from './types.js';

/** Every Message `type` tag (the one list, also used by the transport's decoder). */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'pre-vote',
  'vote',
  'pre-vote-resp',
  'vote-resp',
  'append',
  'append-resp',
  'heartbeat',
  'heartbeat-resp',
  'snapshot',
  'timeout-now',
  'read-index',
  'read-index-resp',
];

const MESSAGE_TYPE_SET: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/** Optional fields may arrive as null from msgpack. */
function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

function optString(v: unknown): boolean {
  return absent(v) || typeof v === 'string';
}

/** True when `v` is a well-formed entry (any index and term). */
export function isEntry(v: unknown): v is Entry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  if (!isIndex(e['term']) || !isIndex(e['index']) || e['index'] === 0) return false;
  switch (e['type']) {
    case 'normal':
      return e['data'] instanceof Uint8Array;
    case 'conf':
      return isConfChange(e['change']);
    case 'noop':
      return true;
    default:
      return false;
  }
}

/**
 * True when `entries` is a well-formed run that may follow (prevIndex, prevTerm) in a message of
 * term `term`: contiguous indexes, terms non-decreasing, ≥ prevTerm and ≤ term.
 */
export function isEntryRun(entries: unknown, prevIndex: number, prevTerm: number, term: number): entries is Entry[] {
  if (!Array.isArray(entries)) return false;
  let lastTerm = prevTerm;
  for (let i = 0; i < entries.length; i++) {
    const e: unknown = entries[i];
    if (!isEntry(e) || e.index !== prevIndex + 1 + i || e.term < lastTerm || e.term > term) return false;
    lastTerm = e.term;
  }
  return true;
}

/** True when `v` is well-formed snapshot metadata. */
export function isSnapshotMeta(v: unknown): v is SnapshotMeta {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return isIndex(m['index']) && isIndex(m['term']) && isConfState(m['confState']) && (m['index'] === 0) === (m['term'] === 0);
}

/** True when `v` has the shape of a Message (types, ids, safe integers, entry runs). */
export function isMessage(v: unknown): v is Message {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  const type = m['type'];
  if (typeof type !== 'string' || !MESSAGE_TYPE_SET.has(type)) return false;
  if (!isNodeId(m['from']) || !isNodeId(m['to']) || !isIndex(m['term'])) return false;
  switch (type) {
    case 'pre-vote':
    case 'vote':
      return isIndex(m['lastIndex']) && isIndex(m['lastTerm']) && (absent(m['transfer']) || typeof m['transfer'] === 'boolean');
    case 'pre-vote-resp':
    case 'vote-resp':
      return typeof m['reject'] === 'boolean';
    case 'append':
      return (
        isIndex(m['prevIndex']) &&
        isIndex(m['prevTerm']) &&
        isIndex(m['commit']) &&
        m['prevTerm'] <= m['term'] &&
        isEntryRun(m['entries'], m['prevIndex'], m['prevTerm'], m['term'])
      );
    case 'append-resp':
      return typeof m['reject'] === 'boolean' && isIndex(m['index']) && isIndex(m['hintIndex']) && isIndex(m['hintTerm']);
    case 'heartbeat':
      return isIndex(m['commit']) && optString(m['context']);
    case 'heartbeat-resp':
      return optString(m['context']);
    case 'snapshot':
      return isSnapshotMeta(m['meta']) && (absent(m['data']) || m['data'] instanceof Uint8Array);
    case 'timeout-now':
      return true;
    case 'read-index':
      return typeof m['context'] === 'string';
    case 'read-index-resp':
      return typeof m['context'] === 'string' && isIndex(m['index']) && typeof m['reject'] === 'boolean';
    default:
      return false;
  }
}
