/**
 * Elections as locks (DESIGN §4): a campaign is an exclusive acquire of `election/<name>` carrying the
 * candidate's value; Proclaim is `set-value`, Resign is `release`, and the leader is the holder.
 */
import { LatchError } from '../common/index.js';
import type { AcquireCommand, LockInfo, ReleaseCommand, SetValueCommand } from './types.js';
import { lockNameProblem } from './validate.js';

/** Every election lock lives under this prefix. */
export const ELECTION_PREFIX = 'election/';

/** The lock name of election `name`; throws LatchError INVALID_ARGUMENT when the result is not a valid lock name. */
export function electionLockName(name: string): string {
  const lock = `${ELECTION_PREFIX}${name}`;
  const p = typeof name === 'string' && name.length > 0 ? lockNameProblem(lock) : 'election name must be a non-empty string';
  if (p !== undefined) throw new LatchError('INVALID_ARGUMENT', `invalid election name ${JSON.stringify(name)}: ${p}`);
  return lock;
}

/** The election name of an election lock, or undefined when `lockName` is not one. */
export function electionNameOf(lockName: string): string | undefined {
  return lockName.startsWith(ELECTION_PREFIX) && lockName.length > ELECTION_PREFIX.length ? lockName.slice(ELECTION_PREFIX.length) : undefined;
}

/** The command that campaigns in `election` with `value`, waiting up to `waitMs` (0 = only if vacant). */
export function campaignCommand(a: { sessionId: number; seq: number; election: string; value: Uint8Array; waitMs: number }): AcquireCommand {
  return { type: 'acquire', sessionId: a.sessionId, seq: a.seq, name: electionLockName(a.election), mode: 'exclusive', waitMs: a.waitMs, value: a.value };
}

/** The command by which the leader of `election` publishes a new value. */
export function proclaimCommand(a: { sessionId: number; seq: number; election: string; value: Uint8Array }): SetValueCommand {
  return { type: 'set-value', sessionId: a.sessionId, seq: a.seq, name: electionLockName(a.election), value: a.value };
}

/** The command by which the leader of `election` steps down (the next candidate in line is granted). */
export function resignCommand(a: { sessionId: number; seq: number; election: string }): ReleaseCommand {
  return { type: 'release', sessionId: a.sessionId, seq: a.seq, name: electionLockName(a.election) };
}

/** The current leader of an election. */
export interface ElectionLeader {
  readonly election: string;
  readonly sessionId: number;
  readonly token: number;
  readonly value: Uint8Array | null;
}

/** The leader of `election` according to `machine`, or undefined when vacant. */
export function electionLeader(machine: { getLock(name: string): LockInfo | undefined }, election: string): ElectionLeader | undefined {
  const lock = machine.getLock(electionLockName(election));
  const h = lock?.mode === 'exclusive' ? lock.holders[0] : undefined;
  if (lock === undefined || h === undefined) return undefined;
  return { election, sessionId: h.sessionId, token: h.token, value: lock.value };
}
