/**
 * A damaged, foreign, unreadable or locked data dir makes LevelStorage.load() reject with
 * StorageFatalError naming the path and the problem — and the dir is left exactly as it was.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/common/codec.js';
import { StorageFatalError } from '../../src/common/errors.js';
import { LevelStorage } from '../../src/storage/level-storage.js';
import { chunkKey, logKey } from '../../src/storage/keys.js';
import { Writer } from './child.js';
import { ents, hs, normal, snap, tempDir } from './helpers.js';

type RawDb = Level<string, Uint8Array>;

let dir: string;
let remove: () => void;
const writers: Writer[] = [];
const storages: LevelStorage[] = [];

beforeEach(() => {
  ({ dir, remove } = tempDir('latch-corrupt-'));
});
afterEach(async () => {
  for (const w of writers.splice(0)) await w.kill();
  for (const s of storages.splice(0)) await s.close();
  try {
    chmodSync(dir, 0o700);
    for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o700);
  } catch {
    // best effort before removal
  }
  remove();
});

function open(path: string): LevelStorage {
  const s = new LevelStorage(path, { snapshotChunkSize: 100 });
  storages.push(s);
  return s;
}

/** A healthy dir: identity, entries 4..10 after a 3-chunk snapshot at 3, hard state commit 8. */
async function healthy(name = 'data'): Promise<string> {
  const path = join(dir, name);
  const s = new LevelStorage(path, { snapshotChunkSize: 100 });
  await s.load();
  await s.setIdentity({ clusterId: 'c1', nodeId: 'n1' });
  await s.save({ entries: [...ents(1, 5, 1), ...ents(6, 10, 2)], hardState: hs(2, 8) }, true);
  await s.compact(snap(3, 1, 250));
  await s.close();
  return path;
}

async function raw(path: string, fn: (db: RawDb) => Promise<void>): Promise<void> {
  const db: RawDb = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

/** Every key and value, in order. */
async function dump(path: string): Promise<string[]> {
  const out: string[] = [];
  await raw(path, async (db) => {
    for await (const [k, v] of db.iterator()) out.push(`${k}=${Buffer.from(v).toString('hex')}`);
  });
  return out;
}

/** Every data file under `path` with a hash of its bytes (LevelDB's info logs LOG/LOG.old rotate on every open attempt). */
function files(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path)) {
    if (name === 'LOG' || name === 'LOG.old') continue;
    const p = join(path, name);
    out[name] = statSync(p).isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

/** Loads `path`, expecting StorageFatalError naming the path and matching `why`; returns it. */
async function expectFatal(path: string, why: RegExp): Promise<StorageFatalError> {
  const s = open(path);
  const err = await s.load().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageFatalError);
  const fatal = err as StorageFatalError;
  expect(fatal.code).toBe('STORAGE_FATAL');
  expect(fatal.path).toBe(path);
  expect(fatal.message).toContain(path);
  expect(fatal.message).toMatch(why);
  // The failure sticks: nothing is written after it.
  await expect(s.save({ entries: [normal(11, 2)] }, true)).rejects.toBe(fatal);
  await expect(s.load()).rejects.toBe(fatal);
  return fatal;
}

/** Corrupts the db through the raw LevelDB API, then checks load fails and the data is untouched. */
async function expectFatalData(path: string, why: RegExp, corrupt: (db: RawDb) => Promise<void>): Promise<void> {
  await raw(path, corrupt);
  const before = await dump(path);
  await expectFatal(path, why);
  expect(await dump(path)).toEqual(before);
}

describe('LevelStorage refuses a damaged data dir', () => {
  it('loads the healthy fixture (control)', async () => {
    const path = await healthy();
    const st = await open(path).load();
    expect(st.entries.map((e) => e.index)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(st.snapshot?.index).toBe(3);
  });

  it('garbage in CURRENT', async () => {
    const path = await healthy();
    writeFileSync(join(path, 'CURRENT'), Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]));
    const before = files(path);
    await expectFatal(path, /corruption.*CURRENT/i);
    expect(files(path)).toEqual(before);
  });

  it('CURRENT naming a manifest that does not exist', async () => {
    const path = await healthy();
    writeFileSync(join(path, 'CURRENT'), 'MANIFEST-999999\n');
    await expectFatal(path, /I\/O error.*MANIFEST-999999/);
  });

  it('garbage in the MANIFEST', async () => {
    const path = await healthy();
    const manifest = readdirSync(path).find((f) => f.startsWith('MANIFEST-'))!;
    writeFileSync(join(path, manifest), Buffer.alloc(300, 0x5a));
    const before = files(path);
    await expectFatal(path, /corruption/i);
    expect(files(path)).toEqual(before);
  });

  it('a non-empty dir without a CURRENT file (not a LevelDB dir, or CURRENT lost)', async () => {
    const path = await healthy();
    rmSync(join(path, 'CURRENT'));
    const before = files(path);
    await expectFatal(path, /no LevelDB CURRENT file but is not empty/);
    expect(files(path)).toEqual(before); // no fresh database was created over it
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'hello');
    await expectFatal(foreign, /no LevelDB CURRENT file.*notes\.txt/);
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
  });

  it('an undecodable value under a log key', async () => {
    const path = await healthy();
    await expectFatalData(path, /undecodable value under key log\/0000000000000006/, (db) =>
      db.put(logKey(6), new Uint8Array([1, 0xc1, 0xff, 0x00]), { sync: true }),
    );
  });

  it('a value with an unknown envelope version', async () => {
    const path = await healthy();
    const bad = encode(normal(7, 2));
    bad[0] = 9;
    await expectFatalData(path, /log\/0000000000000007.*unsupported envelope version 9/, (db) => db.put(logKey(7), bad));
  });

  it('a decodable value of the wrong shape', async () => {
    const path = await healthy();
    await expectFatalData(path, /key log\/0000000000000005.*data is not a byte array/, (db) =>
      db.put(logKey(5), encode({ type: 'normal', index: 5, term: 1, data: 'text' })),
    );
  });

  it('an entry stored under another index’s key', async () => {
    const path = await healthy();
    await expectFatalData(path, /log key log\/0000000000000008 holds entry 9/, (db) => db.put(logKey(8), encode(normal(9, 2))));
  });

  it('a gap in the log', async () => {
    const path = await healthy();
    await expectFatalData(path, /gap in the log: expected index 7 after 6, found 8/, (db) => db.del(logKey(7)));
  });

  it('a log that does not start right after the snapshot', async () => {
    const path = await healthy();
    await expectFatalData(path, /log starts at index 5 but the snapshot ends at 3/, (db) => db.del(logKey(4)));
  });

  it('terms going backwards in the log', async () => {
    const path = await healthy();
    await expectFatalData(path, /entry 9 has term 1, below the previous term 2/, (db) => db.put(logKey(9), encode(normal(9, 1))));
  });

  it('a hard state commit beyond the last index', async () => {
    const path = await healthy();
    await expectFatalData(path, /commit 99 is beyond the last stored index 10/, (db) => db.put('meta/hard-state', encode(hs(2, 99))));
  });

  it('unknown keys', async () => {
    const low = await healthy('low');
    await expectFatalData(low, /unknown key "aaa"/, (db) => db.put('aaa', encode(1)));
    const high = await healthy('high');
    await expectFatalData(high, /unknown key "zzz"/, (db) => db.put('zzz', encode(1)));
    const malformed = await healthy('malformed');
    await expectFatalData(malformed, /malformed log key "log\/12"/, (db) => db.put('log/12', encode(normal(12, 2))));
  });

  it('a missing snapshot chunk, or chunks without a record', async () => {
    const path = await healthy();
    await expectFatalData(path, /snapshot chunk 1 of 3 is missing/, (db) => db.del(chunkKey(1)));
    const orphan = await healthy('orphan');
    await expectFatalData(orphan, /3 snapshot chunks are stored without a snapshot record/, (db) => db.del('snap/meta'));
  });

  it('snapshot bytes that do not match their record', async () => {
    const path = await healthy();
    await raw(path, (db) => db.put(chunkKey(1), new Uint8Array(100).fill(7)));
    const s = open(path);
    await s.load(); // chunk bytes are checked when read, not at load
    await expect(s.readSnapshot()).rejects.toThrow(/checksum mismatch.*data dir: /);
    const stream = await s.readSnapshotChunks(64);
    const read = async (): Promise<number> => {
      let n = 0;
      for await (const c of stream!) n += c.length;
      return n;
    };
    await expect(read()).rejects.toBeInstanceOf(StorageFatalError);
    const short = await healthy('short');
    await raw(short, (db) => db.put(chunkKey(2), new Uint8Array(10)));
    const s2 = open(short);
    await s2.load();
    await expect(s2.readSnapshot()).rejects.toThrow(/holds 210 bytes, recorded 250/);
  });

  it('data without a format marker, or of an unknown format', async () => {
    const path = await healthy();
    await expectFatalData(path, /holds data but no format marker/, (db) => db.del('meta/format'));
    const future = await healthy('future');
    await expectFatalData(future, /unsupported storage format 2/, (db) => db.put('meta/format', encode({ format: 2 })));
  });

  it('a path that is a file, or a CURRENT that is a directory', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    await expectFatal(file, /exists but is not a directory/);
    expect(readFileSync(file, 'utf8')).toBe('x');
    const path = await healthy();
    rmSync(join(path, 'CURRENT'));
    mkdirSync(join(path, 'CURRENT'));
    await expectFatal(path, /I\/O error.*CURRENT/);
  });

  it('an unreadable dir', async () => {
    if (process.getuid?.() === 0) {
      // root ignores mode bits: make the dir unreachable instead, under a regular file.
      const file = join(dir, 'plain-file');
      writeFileSync(file, 'x');
      await expectFatal(join(file, 'data'), /cannot stat the data dir: .*ENOTDIR/);
    } else {
      const path = await healthy();
      chmodSync(path, 0o000);
      await expectFatal(path, /permission denied/);
      chmodSync(path, 0o700);
      expect((await open(path).load()).entries.length).toBe(7);
    }
  });

  it('a dir locked by another LevelStorage in this process', async () => {
    const path = await healthy();
    const first = open(path);
    await first.load();
    await expectFatal(path, /locked: another process or another LevelStorage holds its LOCK/);
    // The holder is unaffected.
    await first.save({ entries: [normal(11, 2)] }, true);
    expect((await first.load()).entries.length).toBe(8);
  });

  it('a dir locked by another process', async () => {
    const path = await healthy();
    const holder = Writer.start(['hold', path]);
    writers.push(holder);
    expect(await holder.next()).toBe('ready');
    await expectFatal(path, /locked/);
    await holder.kill();
    // Once the holder is gone the lock is free and nothing was lost.
    expect((await open(path).load()).entries.map((e) => e.index)).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });
});
