/** Public API of the pure lock state machine and the leader's lease tracker. */
export * from './types.js';
export * from './validate.js';
export { DEFAULT_LOCK_CONFIG, resolveLockConfig } from './config.js';
export { parseLockCommand, type ParsedCommand } from './commands.js';
export { EventRing } from './event-ring.js';
export {
  LOCK_SNAPSHOT_VERSION,
  type EndedSessionSnapshot,
  type HolderSnapshot,
  type LockRecordSnapshot,
  type LockSnapshot,
  type SessionSnapshot,
  type WaiterSnapshot,
} from './snapshot.js';
export { LockStateMachine, sessionAccessProblem } from './state-machine.js';
export { LeaseTracker, type KeepaliveOutcome, type LeaseSessionInput, type LeaseTrackerOptions } from './lease-tracker.js';
export { CheckpointAges } from './checkpoint-ages.js';
export * from './election.js';
