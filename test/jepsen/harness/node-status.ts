/**
 * A node's `/status` answer (`{ id, role, term, leader, … }`) and leader discovery over the
 * answers of every node. Pure.
 */

/** The fields of `/status` the harness uses. */
export interface NodeStatus {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

/** Parses a `/status` body; undefined when it is not the expected shape. */
export function parseNodeStatus(body: unknown): NodeStatus | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const { id, role, leader } = b;
  const term = Number(b.term);
  const commitIndex = Number(b.commitIndex ?? 0);
  const appliedIndex = Number(b.appliedIndex ?? 0);
  if (typeof id !== 'string' || typeof role !== 'string') return undefined;
  if (!Number.isSafeInteger(term) || term < 0 || !Number.isSafeInteger(commitIndex) || !Number.isSafeInteger(appliedIndex)) return undefined;
  if (leader !== null && leader !== undefined && typeof leader !== 'string') return undefined;
  return { id, role, term, leader: leader ?? null, commitIndex, appliedIndex };
}

/**
 * The node that claims leadership in the highest term, if any (what a nemesis aiming at "the
 * leader" should hit; a deposed leader that has not noticed yet claims a lower term).
 */
export function claimedLeader(statuses: Iterable<NodeStatus | undefined>): NodeStatus | undefined {
  let best: NodeStatus | undefined;
  for (const s of statuses) if (s?.role === 'leader' && (best === undefined || s.term > best.term)) best = s;
  return best;
}

/**
 * The leader a majority of the cluster (`clusterSize` nodes) agrees on: it claims leadership and
 * at least a majority, itself included, name it as leader. Undefined otherwise.
 */
export function agreedLeader(statuses: Iterable<NodeStatus | undefined>, clusterSize: number): string | undefined {
  const list = [...statuses].filter((s): s is NodeStatus => s !== undefined);
  const leader = claimedLeader(list);
  if (!leader) return undefined;
  const votes = list.filter((s) => s.leader === leader.id && s.term === leader.term).length;
  return votes >= Math.floor(clusterSize / 2) + 1 ? leader.id : undefined;
}
