/**
 * RaftConfig defaults and validation: every knob resolved to a checked number once, at construction.
 */
import { ConfigError, isNodeId, type NodeId } from '../common/index.js';
import type { RaftConfig } from './types.js';

/** A RaftConfig with every default filled in and every field validated. */
export interface ResolvedConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly electionJitterTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflightMsgs: number;
  readonly maxSizePerMsg: number;
  readonly maxInflightBytes: number;
  readonly readOnly: 'safe' | 'lease';
  readonly leaseDriftTicks: number;
  readonly maxUncommittedBytes: number;
  readonly faults: { readonly commitPreviousTerm: boolean; readonly doubleVote: boolean; readonly skipVotePersist: boolean };
}

function int(field: string, value: number | undefined, dflt: number, min: number): number {
  const v = value ?? dflt;
  if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(field, `must be a safe integer ≥ ${min}, got ${String(v)}`);
  return v;
}

function bool(field: string, value: boolean | undefined, dflt: boolean): boolean {
  const v = value ?? dflt;
  if (typeof v !== 'boolean') throw new ConfigError(field, `must be a boolean, got ${String(v)}`);
  return v;
}

/** Fills in defaults and validates; throws ConfigError naming the first bad field. */
export function resolveConfig(c: RaftConfig): ResolvedConfig {
  if (!isNodeId(c.id)) throw new ConfigError('id', `must match [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(c.id)}`);
  const electionTicks = int('electionTicks', c.electionTicks, 10, 2);
  const electionJitterTicks = int('electionJitterTicks', c.electionJitterTicks, electionTicks, 1);
  if (electionJitterTicks > electionTicks) throw new ConfigError('electionJitterTicks', `must be at most electionTicks (${electionTicks})`);
  const heartbeatTicks = int('heartbeatTicks', c.heartbeatTicks, 1, 1);
  if (heartbeatTicks >= electionTicks) throw new ConfigError('heartbeatTicks', `must be below electionTicks (${electionTicks})`);
  // At least one tick: a tick count says how long ago a round was sent only to within one tick.
  const leaseDriftTicks = int('leaseDriftTicks', c.leaseDriftTicks, 2, 1);
  if (leaseDriftTicks >= electionTicks) throw new ConfigError('leaseDriftTicks', `must be below electionTicks (${electionTicks})`);
  const readOnly = c.readOnly ?? 'safe';
  if (readOnly !== 'safe' && readOnly !== 'lease') throw new ConfigError('readOnly', `must be 'safe' or 'lease'`);
  const f = c.testingFaults ?? {};
  return {
    id: c.id,
    electionTicks,
    electionJitterTicks,
    heartbeatTicks,
    preVote: bool('preVote', c.preVote, true),
    checkQuorum: bool('checkQuorum', c.checkQuorum, true),
    maxInflightMsgs: int('maxInflightMsgs', c.maxInflightMsgs, 256, 1),
    maxSizePerMsg: int('maxSizePerMsg', c.maxSizePerMsg, 1024 * 1024, 1),
    maxInflightBytes: int('maxInflightBytes', c.maxInflightBytes, 32 * 1024 * 1024, 1),
    readOnly,
    leaseDriftTicks,
    maxUncommittedBytes: int('maxUncommittedBytes', c.maxUncommittedBytes, 64 * 1024 * 1024, 1),
    faults: {
      commitPreviousTerm: bool('testingFaults.commitPreviousTerm', f.commitPreviousTerm, false),
      doubleVote: bool('testingFaults.doubleVote', f.doubleVote, false),
      skipVotePersist: bool('testingFaults.skipVotePersist', f.skipVotePersist, false),
    },
  };
}
