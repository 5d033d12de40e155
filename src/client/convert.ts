/**
 * Conversions between the wire shapes and the public types, validating every answer: a malformed
 * field from a server is a `PROTOCOL` LatchClientError, never a crash or a silent NaN.
 */
import { parseWireId } from '../common/ids.js';
import { InvalidArgumentError, LatchClientError } from './errors.js';
import type {
  LeaderInfo,
  LockInfo,
  LockMode,
  NodeStatus,
  Sequencer,
  SessionInfo,
  Value,
  WatchEvent,
  WatchEventType,
} from './types.js';
import { WATCH_EVENT_TYPES } from './types.js';
import type {
  WireEvent,
  WireLeaderResponse,
  WireLockInfo,
  WireLockMode,
  WireSequencer,
  WireSessionInfo,
  WireStatusResponse,
} from './wire.js';

const MAX_U64 = (1n << 64n) - 1n;

function protocol(what: string, got: unknown): LatchClientError {
  return new LatchClientError('PROTOCOL', `malformed ${what} from server: ${JSON.stringify(got)}`);
}

/** A wire uint64 (decimal string) as bigint; throws PROTOCOL when malformed. */
export function idFromWire(s: unknown, what: string): bigint {
  const v = typeof s === 'string' ? parseWireId(s) : undefined;
  if (v === undefined || v > MAX_U64) throw protocol(what, s);
  return v;
}

/** A wire uint64 that must fit a JS number (timestamps). */
function numberFromWire(s: unknown, what: string): number {
  const v = idFromWire(s, what);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw protocol(what, s);
  return Number(v);
}

/** A bigint id as a wire decimal string; throws INVALID_ARGUMENT when out of the uint64 range. */
export function idToWire(v: bigint, what: string): string {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) throw new InvalidArgumentError(`${what} must be a bigint in [0, 2^64), got ${String(v)}`);
  return v.toString();
}

/** The public lock mode of a wire enum name. */
export function modeFromWire(m: unknown): LockMode {
  if (m === 'EXCLUSIVE') return 'exclusive';
  if (m === 'SHARED') return 'shared';
  throw protocol('lock mode', m);
}

/** The wire enum name of a public lock mode (validated: callers may be untyped JS). */
export function modeToWire(m: LockMode): WireLockMode {
  if (m === 'exclusive') return 'EXCLUSIVE';
  if (m === 'shared') return 'SHARED';
  throw new InvalidArgumentError(`mode must be 'exclusive' or 'shared', got ${JSON.stringify(m)}`);
}

/** Maximum size of a lock or election value (DESIGN §4). */
export const MAX_VALUE_BYTES = 4096;

/** A public value as bytes for the wire; strings are UTF-8. Throws INVALID_ARGUMENT beyond 4 KiB. */
export function valueToWire(v: Value | undefined): Buffer {
  let buf: Buffer;
  if (v === undefined) buf = Buffer.alloc(0);
  else if (typeof v === 'string') buf = Buffer.from(v, 'utf8');
  else if (v instanceof Uint8Array) buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  else throw new InvalidArgumentError('value must be a string or a Uint8Array');
  if (buf.byteLength > MAX_VALUE_BYTES) throw new InvalidArgumentError(`value is ${buf.byteLength} bytes; the limit is ${MAX_VALUE_BYTES}`);
  return buf;
}

function bytesFromWire(b: unknown, what: string): Uint8Array {
  if (b === undefined || b === null) return new Uint8Array(0);
  if (b instanceof Uint8Array) return b;
  throw protocol(what, typeof b);
}

/** A public sequencer from the wire. */
export function sequencerFromWire(s: WireSequencer | null | undefined): Sequencer {
  if (!s || typeof s.name !== 'string') throw protocol('sequencer', s);
  return { name: s.name, mode: modeFromWire(s.mode), token: idFromWire(s.token, 'token'), sessionId: idFromWire(s.sessionId, 'session id') };
}

/** A wire sequencer from a public one (validated). */
export function sequencerToWire(s: Sequencer): WireSequencer {
  if (!s || typeof s.name !== 'string') throw new InvalidArgumentError('a sequencer needs a name');
  return { name: s.name, mode: modeToWire(s.mode), token: idToWire(s.token, 'token'), sessionId: idToWire(s.sessionId, 'sessionId') };
}

/** A public lock description from the wire. */
export function lockInfoFromWire(l: WireLockInfo): LockInfo {
  if (!l || typeof l.name !== 'string' || !Array.isArray(l.holders) || !Array.isArray(l.waiters)) throw protocol('lock info', l);
  return {
    name: l.name,
    held: l.held === true,
    mode: modeFromWire(l.mode),
    holders: l.holders.map((h) => ({ sessionId: idFromWire(h.sessionId, 'holder session id'), token: idFromWire(h.token, 'holder token') })),
    value: bytesFromWire(l.value, 'lock value'),
    waiters: l.waiters.map((w) => ({ sessionId: idFromWire(w.sessionId, 'waiter session id'), mode: modeFromWire(w.mode) })),
    inDelay: l.inDelay === true,
  };
}

/** A public session description from the wire. */
export function sessionInfoFromWire(s: WireSessionInfo): SessionInfo {
  if (!s || typeof s.client !== 'string' || !Array.isArray(s.locks)) throw protocol('session info', s);
  return {
    sessionId: idFromWire(s.sessionId, 'session id'),
    client: s.client,
    ttlMs: Number(s.ttlMs),
    metadata: { ...(s.metadata ?? {}) },
    locks: [...s.locks],
    lapsed: s.lapsed === true,
    openedAtMs: numberFromWire(s.openedAtMs, 'opened_at_ms'),
  };
}

/** A public node status from the wire. */
export function statusFromWire(s: WireStatusResponse, endpoint: string): NodeStatus {
  if (!s || typeof s.id !== 'string' || !Array.isArray(s.members)) throw protocol('status', s);
  return {
    id: s.id,
    role: s.role,
    term: idFromWire(s.term, 'term'),
    commitIndex: idFromWire(s.commitIndex, 'commit index'),
    appliedIndex: idFromWire(s.appliedIndex, 'applied index'),
    leader: s.leader ? s.leader : null,
    leaderClientAddress: s.leaderClientAddress ? s.leaderClientAddress : null,
    clientAddress: s.clientAddress,
    clusterId: s.clusterId,
    members: s.members.map((m) => ({ id: m.id, peerAddress: m.peerAddress, clientAddress: m.clientAddress, learner: m.learner === true })),
    endpoint,
  };
}

/** A public election leader from the wire, or null when there is none. */
export function leaderFromWire(name: string, r: WireLeaderResponse): LeaderInfo | null {
  if (!r || typeof r.hasLeader !== 'boolean') throw protocol('leader response', r);
  if (!r.hasLeader) return null;
  return { name, sessionId: idFromWire(r.sessionId, 'leader session id'), token: idFromWire(r.token, 'leader token'), value: bytesFromWire(r.value, 'leader value') };
}

const EVENT_TYPES: ReadonlySet<string> = new Set(WATCH_EVENT_TYPES);

/** A public watch event from the wire. */
export function eventFromWire(e: WireEvent): WatchEvent {
  if (!e || typeof e.type !== 'string' || !EVENT_TYPES.has(e.type)) throw protocol('watch event', e);
  const token = idFromWire(e.token, 'event token');
  return {
    index: idFromWire(e.index, 'event index'),
    type: e.type as WatchEventType,
    name: typeof e.name === 'string' ? e.name : '',
    sessionId: idFromWire(e.sessionId, 'event session id'),
    token: token === 0n ? null : token,
    mode: modeFromWire(e.mode),
    atMs: numberFromWire(e.atMs, 'event at_ms'),
  };
}

/** True when two election states name the same holder, token and value. */
export function sameLeader(a: LeaderInfo | null, b: LeaderInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return a.sessionId === b.sessionId && a.token === b.token && Buffer.from(a.value).equals(Buffer.from(b.value));
}
