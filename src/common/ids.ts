/**
 * Identifier and number conventions, written down once.
 *
 * - Node ids are short strings (`n1`, `n2`, …), distinct from addresses.
 * - Raft terms and log indexes are JS `number`s, always safe integers (2^53 entries is out of reach).
 * - Fencing tokens and session ids are log indexes too; inside the server they are `number`,
 *   in the SDK they are `bigint`, and on the wire (proto) they are decimal strings.
 */

/** A cluster member's stable id, e.g. `n1`. */
export type NodeId = string;

/** True when `n` is a non-negative safe integer (a valid term or index). */
export function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Node ids: 1–64 characters of `[A-Za-z0-9_-]`. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `s` is a well-formed node id. */
export function isNodeId(s: unknown): s is NodeId {
  return typeof s === 'string' && NODE_ID_PATTERN.test(s);
}

/** Converts a wire token/session id (decimal string) to bigint, or undefined when malformed. */
export function parseWireId(s: string): bigint | undefined {
  if (!/^[0-9]{1,20}$/.test(s)) return undefined;
  return BigInt(s);
}
