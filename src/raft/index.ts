/**
 * The pure Raft core: `RaftCore` and the data types it exchanges with its driver.
 */
export * from './types.js';
export { RaftCore, PROMOTE_MAX_LAG } from './raft-core.js';
export { nextConfiguration, isConfChange, isConfState, isVoter, isLearner, isMember, members, sameConf, EMPTY_CONF } from './conf.js';
export type { NextConfiguration } from './conf.js';
export { isMessage, isEntry, isSnapshotMeta, MESSAGE_TYPES } from './validate.js';
export { quorumSize } from './quorum.js';
