/**
 * Validation and normalisation of the durable state a core starts from (InitialState).
 */
import { LatchError, isIndex, isNodeId, type NodeId } from '../common/index.js';
import { EMPTY_CONF, isConfState } from './conf.js';
import type { LogInit } from './log.js';
import type { ConfChange, ConfState, Entry, InitialState } from './types.js';
import { isEntryRun, isSnapshotMeta } from './validate.js';

/** A checked InitialState: the log's starting point plus term and vote. */
export interface NormalizedInitialState extends LogInit {
  readonly term: number;
  readonly vote: NodeId | null;
  /** True when the entries are genesis entries made from `bootstrap` now (not yet durable). */
  readonly genesis: boolean;
}

/**
 * The genesis entries of a bootstrap configuration: one `add-voter` per voter, then one
 * `add-learner` per learner (each list sorted), all at term 1 from index 1. Every bootstrap node
 * makes the same ones, so a node joining later learns the initial configuration from the log
 * (as etcd's bootstrap does).
 */
export function genesisEntries(bootstrap: ConfState): Entry[] {
  const changes: ConfChange[] = [
    ...[...bootstrap.voters].sort().map((node): ConfChange => ({ type: 'add-voter', node })),
    ...[...bootstrap.learners].sort().map((node): ConfChange => ({ type: 'add-learner', node })),
  ];
  return changes.map((change, i) => ({ type: 'conf', term: 1, index: i + 1, change }));
}

function bad(what: string): LatchError {
  return new LatchError('INVALID_ARGUMENT', `invalid initial state: ${what}`);
}

/**
 * Checks `s` and fills in defaults: the commit index is raised to the snapshot index and to
 * `applied` (applied entries are committed); `applied` defaults to (and is at least) the snapshot
 * index. A first boot (term 0, no snapshot, no entries) with a bootstrap configuration becomes
 * term 1 with the committed genesis entries. Throws LatchError('INVALID_ARGUMENT') naming what is wrong.
 */
export function normalizeInitialState(s: InitialState): NormalizedInitialState {
  if (typeof s !== 'object' || s === null) throw bad('not an object');
  const hs = s.hardState;
  if (typeof hs !== 'object' || hs === null) throw bad('hardState missing');
  if (!isIndex(hs.term)) throw bad(`hardState.term ${String(hs.term)}`);
  const vote = hs.vote ?? null;
  if (vote !== null && !isNodeId(vote)) throw bad(`hardState.vote ${String(vote)}`);
  if (!isIndex(hs.commit)) throw bad(`hardState.commit ${String(hs.commit)}`);
  if (s.snapshot !== undefined && s.snapshot !== null && !isSnapshotMeta(s.snapshot)) throw bad('snapshot metadata malformed');
  const snapshot = s.snapshot ?? undefined;
  const snapIndex = snapshot?.index ?? 0;
  const snapTerm = snapshot?.term ?? 0;
  if (snapTerm > hs.term) throw bad(`snapshot term ${snapTerm} above hardState.term ${hs.term}`);
  if (!isEntryRun(s.entries, snapIndex, snapTerm, hs.term)) {
    throw bad(`entries must be well formed, contiguous from ${snapIndex + 1}, with terms between ${snapTerm} and ${hs.term}`);
  }
  if (s.bootstrap !== undefined && s.bootstrap !== null && !isConfState(s.bootstrap)) throw bad('bootstrap configuration malformed');
  const bootstrap = s.bootstrap ?? undefined;
  if (snapshot === undefined && s.entries.length === 0 && hs.term === 0 && bootstrap !== undefined && bootstrap.voters.length > 0) {
    // First boot of a bootstrap node: the configuration goes into the log, committed.
    const entries = genesisEntries(bootstrap);
    return { entries, commit: entries.length, applied: 0, bootstrap: EMPTY_CONF, term: 1, vote: null, genesis: true };
  }
  const lastIndex = snapIndex + s.entries.length;
  const appliedIn = s.applied ?? snapIndex;
  if (!isIndex(appliedIn)) throw bad(`applied ${String(appliedIn)}`);
  const applied = Math.max(appliedIn, snapIndex);
  if (applied > lastIndex) throw bad(`applied ${applied} beyond the last index ${lastIndex}`);
  const commit = Math.max(hs.commit, snapIndex, applied);
  if (commit > lastIndex) throw bad(`commit ${commit} beyond the last index ${lastIndex}`);
  const base = { entries: s.entries, commit, applied, bootstrap: bootstrap ?? EMPTY_CONF, term: hs.term, vote, genesis: false };
  return snapshot === undefined ? base : { ...base, snapshot };
}
