/**
 * Membership configurations, one server at a time (Raft dissertation §4.1), as a pure
 * `nextConfiguration(current, change)` in the manner of hashicorp/raft's configuration.go.
 */
import { isNodeId, type NodeId } from '../common/index.js';
import type { ConfChange, ConfState } from './types.js';

/** The result of applying a change: the new configuration, or why the change is nonsense. */
export type NextConfiguration = { readonly ok: true; readonly conf: ConfState } | { readonly ok: false; readonly reason: string };

/** An empty configuration (a node that has not been told about any cluster yet). */
export const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/** True when `id` is a voter of `conf`. */
export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id);
}

/** True when `id` is a learner of `conf`. */
export function isLearner(conf: ConfState, id: NodeId): boolean {
  return conf.learners.includes(id);
}

/** True when `id` is a voter or a learner of `conf`. */
export function isMember(conf: ConfState, id: NodeId): boolean {
  return isVoter(conf, id) || isLearner(conf, id);
}

/** Every member of `conf` (voters first), each once. */
export function members(conf: ConfState): NodeId[] {
  return [...conf.voters, ...conf.learners];
}

/**
 * Applies one change to `current`. Refuses (never throws) adding an existing member, promoting a
 * non-learner, removing an unknown node, and removing the last voter.
 */
export function nextConfiguration(current: ConfState, change: ConfChange): NextConfiguration {
  const n = change.node;
  switch (change.type) {
    case 'add-learner':
      if (isMember(current, n)) return { ok: false, reason: `${n} is already a member` };
      return { ok: true, conf: { voters: [...current.voters], learners: [...current.learners, n] } };
    case 'add-voter':
      if (isMember(current, n)) return { ok: false, reason: `${n} is already a member (use promote for a learner)` };
      return { ok: true, conf: { voters: [...current.voters, n], learners: [...current.learners] } };
    case 'promote':
      if (!isLearner(current, n)) return { ok: false, reason: `${n} is not a learner` };
      return { ok: true, conf: { voters: [...current.voters, n], learners: current.learners.filter((x) => x !== n) } };
    case 'remove':
      if (!isMember(current, n)) return { ok: false, reason: `${n} is not a member` };
      if (isVoter(current, n) && current.voters.length === 1) return { ok: false, reason: `cannot remove ${n}, the last voter` };
      return { ok: true, conf: { voters: current.voters.filter((x) => x !== n), learners: current.learners.filter((x) => x !== n) } };
    default: {
      const never: never = change;
      return { ok: false, reason: `unknown change ${JSON.stringify(never)}` };
    }
  }
}

/** True when `v` has the shape of a ConfChange (any of its four kinds, with a well-formed node id). */
export function isConfChange(v: unknown): v is ConfChange {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  if (!isNodeId(c['node'])) return false;
  switch (c['type']) {
    case 'add-learner':
    case 'add-voter':
      return c['context'] === undefined || c['context'] === null || c['context'] instanceof Uint8Array;
    case 'promote':
    case 'remove':
      return true;
    default:
      return false;
  }
}

/** True when `v` is a well-formed ConfState: node ids, no duplicates, voters and learners disjoint. */
export function isConfState(v: unknown): v is ConfState {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  const voters = c['voters'];
  const learners = c['learners'];
  if (!Array.isArray(voters) || !Array.isArray(learners)) return false;
  const all = [...voters, ...learners] as unknown[];
  if (!all.every(isNodeId)) return false;
  return new Set(all).size === all.length;
}

/** Two configurations with the same voters and learners (order-insensitive). */
export function sameConf(a: ConfState, b: ConfState): boolean {
  const eq = (x: readonly NodeId[], y: readonly NodeId[]) => x.length === y.length && x.every((id) => y.includes(id));
  return eq(a.voters, b.voters) && eq(a.learners, b.learners);
}
