/**
 * What a failed SDK call means for the history: `fail` when the operation definitely did not take
 * effect, `info` when it may have. Reads never change anything, so a failed read is always a
 * `fail`. Pure.
 */
import { isLatchError } from '../../../src/common/errors.js';
import { LatchClientError, UnavailableError } from '../../../src/client/index.js';

/** The history outcome of a failed call, with a short reason. */
export interface Classified {
  readonly outcome: 'fail' | 'info';
  readonly error: string;
}

/** Server codes that guarantee nothing happened. */
const DEFINITE_SERVER_CODES = new Set([
  'INVALID_ARGUMENT',
  'NOT_LEADER',
  'NO_QUORUM',
  'PROPOSAL_DROPPED',
  'LOCK_HELD',
  'WAIT_TIMEOUT',
  'NOT_HOLDER',
  'UPGRADE_REFUSED',
  'TOO_MANY_WAITERS',
  'TOO_MANY_SESSIONS',
  'MESSAGE_TOO_LARGE',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'STALE_SEQUENCER',
]);

/** A short description of an error for the history's `error` field. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const text = `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`;
    return text.length > 200 ? `${text.slice(0, 199)}…` : text;
  }
  return String(err);
}

/**
 * Classifies a failed call. `kind` is `read` for calls that change nothing (checks, queries),
 * `mutating` otherwise. Session loss (`SESSION_EXPIRED`) on a mutating call is `info`: an earlier
 * attempt of the same request may have been applied before the session expired.
 */
export function classifyError(err: unknown, kind: 'mutating' | 'read'): Classified {
  const error = describeError(err);
  if (kind === 'read') return { outcome: 'fail', error };
  if (err instanceof UnavailableError) return { outcome: err.outcomeUnknown ? 'info' : 'fail', error };
  if (err instanceof LatchClientError) return { outcome: 'info', error };
  if (isLatchError(err)) return { outcome: DEFINITE_SERVER_CODES.has(err.code) ? 'fail' : 'info', error };
  return { outcome: 'info', error };
}
