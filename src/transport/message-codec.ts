/**
 * Wire payloads of the peer transport: Raft messages encoded with the one codec
 * (src/common/codec.ts) and validated field by field on the way in, so the Raft core never
 * sees a malformed message. Decoding rebuilds each message from known fields only.
 */
import { decode, encode } from '../common/codec.js';
import { LatchError } from '../common/errors.js';
import { assertNever } from '../common/assert.js';
import { isIndex, isNodeId, type NodeId } from '../common/ids.js';
import type { ConfChange, ConfState, Entry, Message, MessageType, SnapshotMeta } from '../raft/types.js';
import { MESSAGE_TYPES } from '../raft/index.js';

/** A 'snapshot' message. */
export type SnapshotMessage = Extract<Message, { type: 'snapshot' }>;

/** Every Message `type` tag, for validation (the Raft core's list). */
export { MESSAGE_TYPES };

const MESSAGE_TYPE_SET: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/** Longest accepted ReadIndex / heartbeat context string. */
export const MAX_CONTEXT_LENGTH = 1024;

type Obj = Record<string, unknown>;

function malformed(what: string): LatchError {
  return new LatchError('INVALID_ARGUMENT', `malformed raft message: ${what}`);
}

function obj(x: unknown, what: string): Obj {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) throw malformed(`${what} is not an object`);
  return x as Obj;
}

function index(o: Obj, key: string, what: string): number {
  const v = o[key];
  if (!isIndex(v)) throw malformed(`${what}.${key} is not a non-negative safe integer`);
  return v;
}

function bool(o: Obj, key: string, what: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw malformed(`${what}.${key} is not a boolean`);
  return v;
}

function optBool(o: Obj, key: string, what: string): boolean | undefined {
  return o[key] === undefined || o[key] === null ? undefined : bool(o, key, what);
}

function str(o: Obj, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > MAX_CONTEXT_LENGTH) throw malformed(`${what}.${key} is not a string of at most ${MAX_CONTEXT_LENGTH} characters`);
  return v;
}

function optStr(o: Obj, key: string, what: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(o, key, what);
}

function nodeId(o: Obj, key: string, what: string): string {
  const v = o[key];
  if (!isNodeId(v)) throw malformed(`${what}.${key} is not a node id`);
  return v;
}

/** A plain Uint8Array view of `v` (msgpackr yields Buffers), or an error. */
function bytes(o: Obj, key: string, what: string): Uint8Array {
  const v = o[key];
  if (!(v instanceof Uint8Array)) throw malformed(`${what}.${key} is not binary`);
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function optBytes(o: Obj, key: string, what: string): Uint8Array | undefined {
  return o[key] === undefined || o[key] === null ? undefined : bytes(o, key, what);
}

function nodeList(x: unknown, what: string): NodeId[] {
  if (!Array.isArray(x)) throw malformed(`${what} is not an array`);
  return x.map((v, i) => {
    if (!isNodeId(v)) throw malformed(`${what}[${i}] is not a node id`);
    return v;
  });
}

function confState(x: unknown, what: string): ConfState {
  const o = obj(x, what);
  return { voters: nodeList(o['voters'], `${what}.voters`), learners: nodeList(o['learners'], `${what}.learners`) };
}

function snapshotMeta(x: unknown, what: string): SnapshotMeta {
  const o = obj(x, what);
  return { index: index(o, 'index', what), term: index(o, 'term', what), confState: confState(o['confState'], `${what}.confState`) };
}

function confChange(x: unknown, what: string): ConfChange {
  const o = obj(x, what);
  const node = nodeId(o, 'node', what);
  const type = o['type'];
  switch (type) {
    case 'add-learner':
    case 'add-voter': {
      const context = optBytes(o, 'context', what);
      return context === undefined ? { type, node } : { type, node, context };
    }
    case 'promote':
    case 'remove':
      return { type, node };
    default:
      throw malformed(`${what}.type is not a conf change type`);
  }
}

/** Validates one decoded log entry; returns a fresh object with known fields only. */
export function validateEntry(x: unknown, what = 'entry'): Entry {
  const o = obj(x, what);
  const term = index(o, 'term', what);
  const idx = index(o, 'index', what);
  switch (o['type']) {
    case 'normal':
      return { type: 'normal', term, index: idx, data: bytes(o, 'data', what) };
    case 'conf':
      return { type: 'conf', term, index: idx, change: confChange(o['change'], `${what}.change`) };
    case 'noop':
      return { type: 'noop', term, index: idx };
    default:
      throw malformed(`${what}.type is not an entry type`);
  }
}

/**
 * Validates one decoded Raft message; returns a fresh object with known fields only.
 * Throws LatchError INVALID_ARGUMENT naming the first bad field.
 */
export function validateMessage(x: unknown, what = 'message'): Message {
  const o = obj(x, what);
  const type = o['type'];
  if (typeof type !== 'string' || !MESSAGE_TYPE_SET.has(type)) throw malformed(`${what}.type is not a message type`);
  const t = type as MessageType;
  const base = { from: nodeId(o, 'from', what), to: nodeId(o, 'to', what), term: index(o, 'term', what) };
  switch (t) {
    case 'pre-vote':
    case 'vote': {
      const transfer = optBool(o, 'transfer', what);
      const m = { ...base, type: t, lastIndex: index(o, 'lastIndex', what), lastTerm: index(o, 'lastTerm', what) };
      return transfer === undefined ? m : { ...m, transfer };
    }
    case 'pre-vote-resp':
    case 'vote-resp':
      return { ...base, type: t, reject: bool(o, 'reject', what) };
    case 'append': {
      const prevIndex = index(o, 'prevIndex', what);
      const raw = o['entries'];
      if (!Array.isArray(raw)) throw malformed(`${what}.entries is not an array`);
      const entries = raw.map((e, i) => validateEntry(e, `${what}.entries[${i}]`));
      entries.forEach((e, i) => {
        if (e.index !== prevIndex + 1 + i) throw malformed(`${what}.entries[${i}].index is ${e.index}, expected ${prevIndex + 1 + i}`);
      });
      return { ...base, type: t, prevIndex, prevTerm: index(o, 'prevTerm', what), entries, commit: index(o, 'commit', what) };
    }
    case 'append-resp':
      return {
        ...base,
        type: t,
        reject: bool(o, 'reject', what),
        index: index(o, 'index', what),
        hintIndex: index(o, 'hintIndex', what),
        hintTerm: index(o, 'hintTerm', what),
      };
    case 'heartbeat': {
      const context = optStr(o, 'context', what);
      const m = { ...base, type: t, commit: index(o, 'commit', what) };
      return context === undefined ? m : { ...m, context };
    }
    case 'heartbeat-resp': {
      const context = optStr(o, 'context', what);
      return context === undefined ? { ...base, type: t } : { ...base, type: t, context };
    }
    case 'snapshot': {
      const data = optBytes(o, 'data', what);
      const meta = snapshotMeta(o['meta'], `${what}.meta`);
      return data === undefined ? { ...base, type: t, meta } : { ...base, type: t, meta, data };
    }
    case 'timeout-now':
      return { ...base, type: t };
    case 'read-index':
      return { ...base, type: t, context: str(o, 'context', what) };
    case 'read-index-resp':
      return { ...base, type: t, context: str(o, 'context', what), index: index(o, 'index', what), reject: bool(o, 'reject', what) };
    default:
      return assertNever(t, 'message type');
  }
}

/** Encodes a non-empty list of messages as one Batch payload. */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  return encode(messages);
}

/**
 * Decodes and validates a Batch payload: a non-empty array of valid messages.
 * Throws LatchError INVALID_ARGUMENT on undecodable bytes or any malformed message.
 */
export function decodeMessages(payload: Uint8Array): Message[] {
  let raw: unknown;
  try {
    raw = decode<unknown>(payload);
  } catch (err) {
    throw new LatchError('INVALID_ARGUMENT', `undecodable batch payload (${payload.length} bytes): ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(raw) || raw.length === 0) throw malformed('batch payload is not a non-empty array of messages');
  return raw.map((m, i) => validateMessage(m, `message[${i}]`));
}

/** A cheap upper-bound guess of a message's encoded size, used to bound queues and batches. */
export function estimateMessageSize(msg: Message): number {
  let n = 96;
  switch (msg.type) {
    case 'append':
      for (const e of msg.entries) n += 48 + (e.type === 'normal' ? e.data.length : e.type === 'conf' ? 96 + (('context' in e.change && e.change.context?.length) || 0) : 0);
      break;
    case 'snapshot':
      n += 64 + 16 * (msg.meta.confState.voters.length + msg.meta.confState.learners.length) + (msg.data?.length ?? 0);
      break;
    case 'heartbeat':
    case 'heartbeat-resp':
      n += (msg.context?.length ?? 0) * 3;
      break;
    case 'read-index':
    case 'read-index-resp':
      n += msg.context.length * 3;
      break;
    default:
      break;
  }
  return n;
}
