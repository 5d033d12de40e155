/**
 * The knobs of one simulated schedule, drawn by fast-check from the schedule's seed so that a
 * seed alone replays a run exactly.
 */
import fc from 'fast-check';
import { TEETH } from './teeth-profiles.js';

/** Everything that shapes one schedule (besides the seed that drives its RNG). */
export interface SimParams {
  /** Voters at bootstrap (3–5). */
  readonly voters: number;
  /** Extra node ids that membership changes may add (each id is used at most once). */
  readonly spares: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnly: 'safe' | 'lease';
  readonly leaseDriftTicks: number;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  /** Small, so a backlog stays bounded (and PROPOSAL_DROPPED gets exercised). */
  readonly maxUncommittedBytes: number;
  /** Virtual milliseconds per tick. */
  readonly tickMs: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Probability that a message is held back much longer (reordering across rounds). */
  readonly longDelayRate: number;
  readonly dropRate: number;
  readonly dupRate: number;
  /** Upper bound of the simulated fsync latency. */
  readonly persistMaxMs: number;
  /** Per chaos step (one per tick) probabilities. */
  readonly partitionRate: number;
  readonly healRate: number;
  readonly crashRate: number;
  /** Probability that a crash picks the leader (if any) rather than a random node. */
  readonly crashLeaderBias: number;
  readonly maxDowntimeMs: number;
  readonly proposeRate: number;
  readonly readRate: number;
  readonly confRate: number;
  readonly transferRate: number;
  /** A node compacts once it applied this many entries past its snapshot. */
  readonly compactEvery: number;
  /** Ticks of chaos before the network heals and liveness is checked. */
  readonly chaosTicks: number;
}

// Integers scaled down: fast-check's doubles favour extreme values (1e-300), useless as rates.
const unit = fc.integer({ min: 0, max: 10_000 }).map((x) => x / 10_000);
const bool = (pTrue: number) => unit.map((x) => x < pTrue);
const rate = (max: number) => unit.map((x) => x * max);

/** The arbitrary of schedule parameters. */
export const simParamsArb: fc.Arbitrary<SimParams> = fc
  .record({
    voters: fc.integer({ min: 3, max: 5 }),
    spares: fc.integer({ min: 0, max: 2 }),
    electionTicks: fc.integer({ min: 5, max: 12 }),
    heartbeatTicks: fc.integer({ min: 1, max: 2 }),
    preVote: bool(0.8),
    checkQuorum: bool(0.85),
    lease: bool(0.4),
    leaseDriftTicks: fc.integer({ min: 1, max: 3 }),
    maxSizePerMsg: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 256 })),
    maxInflightMsgs: fc.integer({ min: 1, max: 16 }),
    maxInflightBytes: fc.oneof(fc.integer({ min: 16, max: 512 }), fc.constant(1 << 20)),
    maxUncommittedBytes: fc.integer({ min: 32, max: 1024 }),
    tickMs: fc.constant(10),
    minDelayMs: fc.integer({ min: 1, max: 5 }),
    extraDelayMs: fc.integer({ min: 0, max: 30 }),
    longDelayRate: rate(0.03),
    dropRate: rate(0.15),
    dupRate: rate(0.08),
    persistMaxMs: fc.integer({ min: 0, max: 15 }),
    partitionRate: rate(0.03),
    healRate: unit.map((x) => 0.002 + x * 0.03),
    crashRate: rate(0.012),
    crashLeaderBias: rate(0.5),
    maxDowntimeMs: fc.integer({ min: 20, max: 2000 }),
    proposeRate: unit.map((x) => 0.02 + x * 0.58),
    readRate: rate(0.5),
    confRate: rate(0.015),
    transferRate: rate(0.006),
    compactEvery: fc.integer({ min: 3, max: 60 }),
    chaosTicks: fc.integer({ min: 200, max: 900 }),
  })
  .chain(({ lease, extraDelayMs, ...p }) => {
    const mixed = normalizeParams({ ...p, readOnly: lease ? ('lease' as const) : ('safe' as const), maxDelayMs: p.minDelayMs + extraDelayMs });
    // One schedule in five is a split-brain hunt: leaders keep getting cut off while clients keep
    // writing to the newest leader and reading from any node that believes it leads (stale reads).
    // One in five takes a teeth profile's shape (contested elections without pre-vote, Figure 8
    // crash storms): the schedules that expose double votes, unpersisted votes and old-term commits.
    return fc.oneof(
      { weight: 3, arbitrary: fc.constant(mixed) },
      { weight: 1, arbitrary: fc.constantFrom(...TEETH.map((t) => t.params)).map((t) => normalizeParams({ ...mixed, ...t })) },
      {
        weight: 1,
        arbitrary: fc
          .record({ lease: bool(0.7), partitionRate: unit.map((x) => 0.02 + 0.02 * x), healRate: unit.map((x) => 0.005 + 0.01 * x), read: unit, write: unit })
          .map((h) =>
            normalizeParams({
              ...mixed,
              readOnly: h.lease ? 'lease' : 'safe',
              crashRate: 0,
              dropRate: Math.min(mixed.dropRate, 0.02),
              partitionRate: h.partitionRate,
              healRate: h.healRate,
              readRate: 0.3 + 0.3 * h.read,
              proposeRate: 0.3 + 0.3 * h.write,
            }),
          ),
      },
    );
  });

/** Makes a parameter set consistent (also after overrides). */
export function normalizeParams(p: SimParams): SimParams {
  return {
    ...p,
    // Lease reads rely on CheckQuorum (voters ignore elections while they hear from a leader).
    checkQuorum: p.readOnly === 'lease' ? true : p.checkQuorum,
    heartbeatTicks: Math.min(p.heartbeatTicks, p.electionTicks - 1),
    leaseDriftTicks: Math.min(p.leaseDriftTicks, p.electionTicks - 1),
    maxDelayMs: Math.max(p.maxDelayMs, p.minDelayMs),
  };
}

/** The parameters of schedule `seed` (deterministic), with optional overrides. */
export function paramsForSeed(seed: number, overrides: Partial<SimParams> = {}): SimParams {
  const [p] = fc.sample(simParamsArb, { seed, numRuns: 1 });
  if (p === undefined) throw new Error(`no parameters for seed ${seed}`);
  return normalizeParams({ ...p, ...overrides });
}
