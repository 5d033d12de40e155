/** The Jepsen-style checkers: history format, linearizability, models, fencing, election, session leases, report. */

export * from './history.js';
export * from './history-jsonl.js';
export * from './recorder.js';
export type { DecodedOp, Model, StepResult } from './model.js';
export * from './linearizability.js';
export * from './models.js';
export * from './fencing.js';
export * from './election.js';
export * from './session-lease.js';
export * from './report.js';
export { canonicalJson } from './values.js';
