/**
 * Majority-quorum arithmetic over a voter set (etcd's quorum/majority.go, for one configuration:
 * membership changes are one server at a time, so there is never a joint configuration).
 */
import type { NodeId } from '../common/index.js';

/** The number of votes a majority of `n` voters needs. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest value that a majority of `voters` have reached: sort the voters' values descending
 * and take the quorum-th one. With no voters it is 0 (nothing can be decided).
 * Used for the commit index (values = match indexes) and for confirmed heartbeat rounds.
 */
export function majorityValue(voters: readonly NodeId[], valueOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const values = voters.map(valueOf).sort((a, b) => b - a);
  return values[quorumSize(voters.length) - 1] ?? 0;
}

/** Outcome of an election tally. */
export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * Tallies votes: `won` once a majority of `voters` granted, `lost` once a majority can no longer
 * be reached, else `pending`. Votes from ids outside `voters` are not counted.
 */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'lost';
  let granted = 0;
  let missing = 0;
  for (const v of voters) {
    const vote = votes.get(v);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}
