/** Client-side checks of lock and election names (DESIGN §4); the server checks again and is the authority. */
import { InvalidArgumentError } from './errors.js';

/** Longest lock name, in bytes. */
export const MAX_NAME_BYTES = 256;

const NAME_CHARS = /^[A-Za-z0-9._/-]+$/;

/** Why `name` is not a valid lock name, or null when it is. */
export function lockNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'a lock name must be a string';
  if (name.length === 0) return 'a lock name must not be empty';
  if (name.length > MAX_NAME_BYTES) return `lock name is ${name.length} bytes; the limit is ${MAX_NAME_BYTES}`;
  if (!NAME_CHARS.test(name)) return `lock name ${JSON.stringify(name)} may only contain [A-Za-z0-9._/-]`;
  if (name.split('/').some((seg) => seg.length === 0)) return `lock name ${JSON.stringify(name)} has an empty segment (leading, trailing or double '/')`;
  return null;
}

/** Throws InvalidArgumentError unless `name` is a valid lock name. */
export function checkLockName(name: unknown): asserts name is string {
  const problem = lockNameProblem(name);
  if (problem !== null) throw new InvalidArgumentError(problem);
}

/** The lock that backs election `name` (DESIGN §4: a campaign is an acquisition of `election/<name>`). */
export function electionLockName(name: string): string {
  return `election/${name}`;
}

/** Throws InvalidArgumentError unless `name` is a valid election name. */
export function checkElectionName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new InvalidArgumentError('an election name must be a string');
  const problem = lockNameProblem(electionLockName(name));
  if (problem !== null || name.length === 0) throw new InvalidArgumentError(`invalid election name ${JSON.stringify(name)}: ${problem ?? 'empty'}`);
}
