/**
 * Opening a LevelDB for a store (LevelStorage's whole db, SegmentStorage's meta db), with
 * LevelDB's failures turned into one line a person can act on.
 */
import { Level } from 'level';

/** A LevelDB of string keys and byte values. */
export type Db = Level<string, Uint8Array>;

/** The message of an error, or its string form. */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Opens (creating) the db at `path`. On failure throws `fatal(why, err)`, where `why` says what
 * went wrong (locked by another process, corruption, an I/O error); `what` names the db in it and
 * `owner` the kind of store that holds such a lock.
 */
export async function openLevelDb(path: string, names: { readonly what: string; readonly owner: string }, fatal: (why: string, cause: unknown) => Error): Promise<Db> {
  const { what, owner } = names;
  const db: Db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view', createIfMissing: true });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause ?? err;
    const code = (cause as { code?: unknown }).code;
    const why =
      code === 'LEVEL_LOCKED'
        ? `the data dir is locked: another process or another ${owner} holds its LOCK (${describe(cause)})`
        : code === 'LEVEL_CORRUPTION'
          ? `LevelDB reports corruption in ${what}: ${describe(cause)}`
          : code === 'LEVEL_IO_ERROR'
            ? `LevelDB I/O error opening ${what}: ${describe(cause)}`
            : `cannot open ${what} (${path}): ${describe(cause)}`;
    throw fatal(why, err);
  }
  return db;
}
