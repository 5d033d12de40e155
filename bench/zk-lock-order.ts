/**
 * The decision step of ZooKeeper's standard lock recipe (as Curator's InterProcessMutex), pure:
 * given the children of the lock node and the name of our ephemeral sequential node, are we the
 * holder, whom do we watch, or is our node gone?
 */

/** Node name prefix of a lock contender; Curator's protected mode puts `_c_<uuid>-` before it. */
export const LOCK_NODE_MARKER = 'lock-';

/** The sequence number ZooKeeper appended to a sequential node name (its last 10 digits), or null. */
export function sequenceOf(nodeName: string): number | null {
  const m = /(\d{10})$/.exec(nodeName);
  if (!m || !nodeName.includes(LOCK_NODE_MARKER)) return null;
  return Number(m[1]);
}

/** What a contender does next. */
export type LockDecision =
  | { readonly type: 'acquired' }
  | { readonly type: 'wait'; readonly predecessor: string }
  | { readonly type: 'lost' };

/**
 * Orders the lock node's children by sequence number (names that are not contenders are
 * ignored) and decides for `ours`: the lowest holds the lock; every other contender watches only
 * the one just before it, so a release wakes exactly one waiter. `lost` means our node is not
 * there (its session ended).
 */
export function lockDecision(children: readonly string[], ours: string): LockDecision {
  const contenders = children
    .map((name) => ({ name, seq: sequenceOf(name) }))
    .filter((c): c is { name: string; seq: number } => c.seq !== null)
    .sort((a, b) => a.seq - b.seq || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const idx = contenders.findIndex((c) => c.name === ours);
  if (idx < 0) return { type: 'lost' };
  if (idx === 0) return { type: 'acquired' };
  return { type: 'wait', predecessor: contenders[idx - 1]!.name };
}
