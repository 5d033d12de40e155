/** The `latch` package: the TypeScript SDK (LatchClient, Session, Lock, Election) and its error types. */
export * from './client/index.js';
