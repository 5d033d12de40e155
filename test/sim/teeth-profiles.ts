/**
 * Schedules aimed at each planted bug, with the seed budget within which the simulator must catch
 * it. Established empirically (see the report): over the first 40–60 seeds of each profile the
 * fault is caught in 25–40 % of schedules, so a budget of 40 misses with probability < 1e-5.
 */
import type { TestingFaults } from '../../src/raft/index.js';
import type { Violation } from './checker.js';
import type { SimParams } from './params.js';

/** A planted fault, the schedules that expose it, and what the checker must report. */
export interface TeethProfile {
  readonly fault: keyof TestingFaults;
  readonly params: Partial<SimParams>;
  readonly budget: number;
  readonly expect: readonly Violation['kind'][];
}

/** Fast elections without pre-vote, so candidacies collide and votes are contested. */
const contested: Partial<SimParams> = {
  voters: 3,
  spares: 0,
  electionTicks: 4,
  heartbeatTicks: 1,
  preVote: false,
  checkQuorum: false,
  readOnly: 'safe',
  minDelayMs: 5,
  maxDelayMs: 20,
  partitionRate: 0.1,
  healRate: 0.3,
  confRate: 0,
  chaosTicks: 1500,
};

/** The three planted faults of TestingFaults. */
export const TEETH: readonly TeethProfile[] = [
  {
    fault: 'doubleVote',
    params: { ...contested, crashRate: 0 },
    budget: 40,
    expect: ['election-safety', 'log-matching'],
  },
  {
    // A voter's grant leaves before its fsync; the voter crashes mid-write and comes straight back.
    fault: 'skipVotePersist',
    params: { ...contested, crashRate: 0.6, crashLeaderBias: 0, maxDowntimeMs: 2, persistMaxMs: 15 },
    budget: 40,
    expect: ['election-safety', 'log-matching'],
  },
  {
    // Raft Figure 8: leaders crash right after replicating to a minority, one entry per message.
    fault: 'commitPreviousTerm',
    params: {
      voters: 3,
      spares: 0,
      electionTicks: 3,
      heartbeatTicks: 1,
      preVote: false,
      checkQuorum: false,
      readOnly: 'safe',
      crashRate: 0.3,
      crashLeaderBias: 0.8,
      maxDowntimeMs: 60,
      persistMaxMs: 5,
      minDelayMs: 1,
      maxDelayMs: 15,
      partitionRate: 0.05,
      healRate: 0.3,
      dropRate: 0.2,
      maxSizePerMsg: 1,
      maxInflightMsgs: 1,
      maxUncommittedBytes: 100_000,
      proposeRate: 0.8,
      compactEvery: 10_000,
      confRate: 0,
      chaosTicks: 1500,
    },
    budget: 40,
    expect: ['leader-completeness', 'state-machine-safety', 'log-matching'],
  },
];
