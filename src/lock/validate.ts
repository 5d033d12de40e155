/**
 * Limits and validators for lock names, values, prefixes and session fields (DESIGN §4, §5).
 * The state machine re-checks every field inside `apply`; the server reuses these to refuse bad
 * input before it reaches the log. Each `…Problem` function returns a message a person can act on,
 * or `undefined` when the input is valid.
 */
import { LatchError } from '../common/index.js';

/** Longest lock name, in bytes. */
export const MAX_NAME_BYTES = 256;
/** Largest lock value, in bytes. */
export const MAX_VALUE_BYTES = 4096;
/** Hard lower bound of a session TTL (the server clamps requests before the log). */
export const MIN_TTL_MS = 1_000;
/** Hard upper bound of a session TTL. */
export const MAX_TTL_MS = 3_600_000;
/** Longest wait for a queued acquire (the largest delay a Node timer accepts). */
export const MAX_WAIT_MS = 2_147_483_647;
/** Longest lock-delay an `expire-session` may impose. */
export const MAX_LOCK_DELAY_MS = 3_600_000;
/** Longest client name of a session, in UTF-8 bytes. */
export const MAX_CLIENT_BYTES = 256;
/** Most metadata entries on a session. */
export const MAX_META_ENTRIES = 32;
/** Longest metadata key, in UTF-8 bytes. */
export const MAX_META_KEY_BYTES = 64;
/** Most metadata bytes (keys plus values, UTF-8) on a session. */
export const MAX_META_BYTES = 4096;
/** Most sessions in one `checkpoint-sessions` entry. */
export const MAX_CHECKPOINT_BATCH = 10_000;

const NAME_CHARS = /^[A-Za-z0-9._/-]*$/;

/** The UTF-8 length of `s` in bytes (lone surrogates count as the 3-byte replacement character). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** A short, quoted rendering of untrusted input for error messages. */
export function describeInput(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 60 ? `${x.slice(0, 60)}…` : x);
  if (x === null) return 'null';
  if (x instanceof Uint8Array) return `${x.byteLength} bytes`;
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'undefined') return String(x);
  return `a ${typeof x}`;
}

/** Why `name` is not a valid lock name: 1–256 bytes of `[A-Za-z0-9._/-]` with no empty `/` segment. */
export function lockNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `lock name must be a string, got ${describeInput(name)}`;
  if (name.length === 0) return 'lock name must not be empty';
  if (name.length > MAX_NAME_BYTES) return `lock name is ${name.length} bytes; the limit is ${MAX_NAME_BYTES}`;
  if (!NAME_CHARS.test(name)) return `lock name ${describeInput(name)} may only contain A-Z a-z 0-9 . _ / -`;
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return `lock name ${describeInput(name)} has an empty path segment (leading, trailing or double '/')`;
  }
  return undefined;
}

/** True when `name` is a valid lock name. */
export function isLockName(name: unknown): name is string {
  return lockNameProblem(name) === undefined;
}

/** Throws a LatchError `INVALID_ARGUMENT` unless `name` is a valid lock name. */
export function assertLockName(name: unknown): asserts name is string {
  const p = lockNameProblem(name);
  if (p !== undefined) throw new LatchError('INVALID_ARGUMENT', p);
}

/** Why `prefix` is not a valid name prefix (for listings and Watch): 0–256 bytes of `[A-Za-z0-9._/-]`. */
export function lockPrefixProblem(prefix: unknown): string | undefined {
  if (typeof prefix !== 'string') return `name prefix must be a string, got ${describeInput(prefix)}`;
  if (prefix.length > MAX_NAME_BYTES) return `name prefix is ${prefix.length} bytes; the limit is ${MAX_NAME_BYTES}`;
  if (!NAME_CHARS.test(prefix)) return `name prefix ${describeInput(prefix)} may only contain A-Z a-z 0-9 . _ / -`;
  return undefined;
}

/** Throws a LatchError `INVALID_ARGUMENT` unless `prefix` is a valid name prefix. */
export function assertLockPrefix(prefix: unknown): asserts prefix is string {
  const p = lockPrefixProblem(prefix);
  if (p !== undefined) throw new LatchError('INVALID_ARGUMENT', p);
}

/** Why `value` is not a valid lock value: a Uint8Array of at most 4096 bytes. */
export function lockValueProblem(value: unknown): string | undefined {
  if (!(value instanceof Uint8Array)) return `lock value must be bytes (Uint8Array), got ${describeInput(value)}`;
  if (value.byteLength > MAX_VALUE_BYTES) return `lock value is ${value.byteLength} bytes; the limit is ${MAX_VALUE_BYTES}`;
  return undefined;
}

/** Throws a LatchError `INVALID_ARGUMENT` unless `value` is a valid lock value. */
export function assertLockValue(value: unknown): asserts value is Uint8Array {
  const p = lockValueProblem(value);
  if (p !== undefined) throw new LatchError('INVALID_ARGUMENT', p);
}

/** Why `n` is not an integer in [min, max] (`what` names the field in the message). */
export function intRangeProblem(what: string, n: unknown, min: number, max: number): string | undefined {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) return `${what} must be an integer, got ${describeInput(n)}`;
  if (n < min || n > max) return `${what} is ${n}; it must be between ${min} and ${max}`;
  return undefined;
}

/** Why `id` is not a valid session id, waiter id, token or request seq (a positive safe integer). */
export function idProblem(what: string, id: unknown): string | undefined {
  return intRangeProblem(what, id, 1, Number.MAX_SAFE_INTEGER);
}

/** Why `ttlMs` is outside the hard session TTL limits (1 s … 1 h). */
export function ttlProblem(ttlMs: unknown): string | undefined {
  return intRangeProblem('session ttlMs', ttlMs, MIN_TTL_MS, MAX_TTL_MS);
}

/** Why `client` is not a valid session client name (1–256 UTF-8 bytes). */
/** Most bytes of a session owner / caller identity (a token name or a certificate subject). */
export const MAX_IDENTITY_BYTES = 512;

/** Why `identity` is not a valid session owner or caller identity, or undefined if it is. */
export function identityProblem(field: string, identity: unknown): string | undefined {
  if (typeof identity !== 'string') return `${field} must be a string, got ${describeInput(identity)}`;
  const n = utf8Length(identity);
  if (n === 0) return `${field} must not be empty (leave it out for no identity)`;
  if (n > MAX_IDENTITY_BYTES) return `${field} is ${n} bytes; the limit is ${MAX_IDENTITY_BYTES}`;
  return undefined;
}

export function clientProblem(client: unknown): string | undefined {
  if (typeof client !== 'string') return `session client name must be a string, got ${describeInput(client)}`;
  const n = utf8Length(client);
  if (n === 0) return 'session client name must not be empty';
  if (n > MAX_CLIENT_BYTES) return `session client name is ${n} bytes; the limit is ${MAX_CLIENT_BYTES}`;
  return undefined;
}

/** True when `x` is a plain object (not an array, class instance or null). */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Why `meta` is not valid session metadata: ≤ 32 string entries, keys 1–64 bytes, ≤ 4096 bytes in all. */
export function sessionMetaProblem(meta: unknown): string | undefined {
  if (!isPlainObject(meta)) return `session meta must be an object of strings, got ${describeInput(meta)}`;
  const keys = Object.keys(meta);
  if (keys.length > MAX_META_ENTRIES) return `session meta has ${keys.length} entries; the limit is ${MAX_META_ENTRIES}`;
  let total = 0;
  for (const k of keys) {
    const v = meta[k];
    const kb = utf8Length(k);
    if (kb === 0 || kb > MAX_META_KEY_BYTES) return `session meta key ${describeInput(k)} must be 1–${MAX_META_KEY_BYTES} bytes`;
    if (typeof v !== 'string') return `session meta ${describeInput(k)} must be a string, got ${describeInput(v)}`;
    total += kb + utf8Length(v);
  }
  if (total > MAX_META_BYTES) return `session meta is ${total} bytes; the limit is ${MAX_META_BYTES}`;
  return undefined;
}
