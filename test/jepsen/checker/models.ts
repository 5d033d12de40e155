/** The models the checkers ship with: a lock with tokens, a register, and a fenced register. */

export * from './lock-model.js';
export * from './register-model.js';
export * from './fencing-register-model.js';
