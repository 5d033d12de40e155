/**
 * The Latch SDK: `LatchClient`, `Session`, `Lock`, `Election`, and their errors and types.
 * Errors with server codes are `LatchError`s from src/common (re-exported by the package root);
 * client-side conditions are `LatchClientError`s.
 */
export { LatchClient, type LatchClientOptions, type WatchOptions } from './client.js';
export { Session, WAIT_CHUNK_MS, type SessionOptions, type LockOptions, type TryLockOptions, type SessionEvent } from './session.js';
export { Lock, type LockKind } from './lock.js';
export { Election, type CampaignOptions, type ObserveOptions } from './election.js';
export type { LeaseState } from './local-lease.js';
export type { Listener } from './listeners.js';
export {
  LockHeldError,
  WaitTimeoutError,
  SessionExpiredError,
  NotHolderError,
  InvalidArgumentError,
  WatchCompactedError,
  LatchClientError,
  UnavailableError,
  LockLostError,
  CLIENT_ERROR_CODES,
  isLatchClientError,
  type ClientErrorCode,
  type LockLossReason,
} from './errors.js';
/** Every server answer's base class (its stable `code`), and the OVERLOADED answer with its retry hint. */
export { LatchError, OverloadedError } from '../common/errors.js';
export { WATCH_EVENT_TYPES } from './types.js';
export type {
  LockMode,
  Sequencer,
  LockHolder,
  LockWaiter,
  LockInfo,
  SessionInfo,
  MemberInfo,
  NodeStatus,
  LeaderInfo,
  WatchEvent,
  WatchEventType,
  Value,
} from './types.js';
export { checkLockName, lockNameProblem, electionLockName } from './names.js';
export { DEFAULT_BACKOFF, type BackoffPolicy } from './retry-plan.js';
export type { Timers, TimerHandle } from './timers.js';
export type { RpcTransport, AttemptOptions, StreamHandlers, ServerStreamHandle, KeepAliveStreamHandle } from './rpc-transport.js';
