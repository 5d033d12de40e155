/** The client-facing `latch` commands: lock, elect, locks, sessions, watch. */
import type { Command } from 'commander';
import { registerElectCommand } from './elect.js';
import { registerListCommands } from './lists.js';
import { registerLockCommand } from './lock.js';

export { registerLockCommand, lockAndRun, holdAndRun, type LockCommandOptions } from './lock.js';
export { registerElectCommand, formatLeader, type ElectCommandOptions } from './elect.js';
export { registerListCommands, formatLocks, formatSessions, formatEvent, table } from './lists.js';
export { parseDuration, formatDuration } from './duration.js';
export { EXIT, DEFAULT_ENDPOINTS, resolveEndpoints, toJson } from './cli-support.js';
export { runWhileHeld, exitCodeOf, type ChildOutcome, type RunWhileHeldOptions } from './run-child.js';

/** Registers every client-facing command on `program`. */
export function registerClientCommands(program: Command): void {
  registerLockCommand(program);
  registerElectCommand(program);
  registerListCommands(program);
}
