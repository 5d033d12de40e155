/** LevelStorage specifics beyond the conformance suite: key layout, snapshot chunking, one synced batch per call. */
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decode } from '../../src/common/codec.js';
import { DEFAULT_SNAPSHOT_CHUNK_SIZE, LevelStorage } from '../../src/storage/level-storage.js';
import { bytes, ents, hex, hs, meta, normal, snap, tempDir } from './helpers.js';

let dir: string;
let remove: () => void;
const storages: LevelStorage[] = [];

beforeEach(() => {
  ({ dir, remove } = tempDir('latch-level-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of storages.splice(0)) await s.close();
  remove();
});

function open(options?: { snapshotChunkSize?: number }): LevelStorage {
  const s = new LevelStorage(join(dir, 'data'), options);
  storages.push(s);
  return s;
}

/** All keys and values of the closed data dir. */
async function rawEntries(): Promise<[string, Uint8Array][]> {
  const db = new Level<string, Uint8Array>(join(dir, 'data'), { valueEncoding: 'view' });
  await db.open();
  const out: [string, Uint8Array][] = [];
  for await (const kv of db.iterator()) out.push(kv);
  await db.close();
  return out;
}

describe('LevelStorage', () => {
  it('lays keys out as documented, with versioned values', async () => {
    const s = open({ snapshotChunkSize: 100 });
    await s.load();
    await s.setIdentity({ clusterId: 'c', nodeId: 'n1' });
    await s.save({ entries: ents(1, 3, 1), hardState: hs(1, 2) }, true);
    await s.compact(snap(1, 1, 250));
    await s.close();
    const kv = await rawEntries();
    expect(kv.map(([k]) => k)).toEqual([
      'log/0000000000000002',
      'log/0000000000000003',
      'meta/format',
      'meta/hard-state',
      'meta/identity',
      'snap/data/00000000',
      'snap/data/00000001',
      'snap/data/00000002',
      'snap/meta',
    ]);
    for (const [k, v] of kv) if (!k.startsWith('snap/data/')) expect(v[0], k).toBe(1);
    const record = decode<{ meta: unknown; size: number; chunkSize: number; chunks: number }>(kv.find(([k]) => k === 'snap/meta')![1]);
    expect(record).toMatchObject({ meta: meta(1, 1), size: 250, chunkSize: 100, chunks: 3 });
    expect(kv.filter(([k]) => k.startsWith('snap/data/')).map(([, v]) => v.length)).toEqual([100, 100, 50]);
  });

  it('stores large snapshots in 1 MiB chunks and removes the old chunks with the next snapshot', async () => {
    const s = open();
    await s.load();
    await s.save({ entries: ents(1, 4, 1), hardState: hs(1, 4) }, true);
    const big = { meta: meta(2, 1), data: bytes(2.5 * DEFAULT_SNAPSHOT_CHUNK_SIZE, 3) };
    await s.compact(big);
    expect(hex((await s.readSnapshot())!.data)).toBe(hex(big.data));
    const sizes: number[] = [];
    for await (const c of (await s.readSnapshotChunks(DEFAULT_SNAPSHOT_CHUNK_SIZE))!) sizes.push(c.length);
    expect(sizes).toEqual([DEFAULT_SNAPSHOT_CHUNK_SIZE, DEFAULT_SNAPSHOT_CHUNK_SIZE, DEFAULT_SNAPSHOT_CHUNK_SIZE / 2]);
    await s.close();
    expect((await rawEntries()).filter(([k]) => k.startsWith('snap/data/')).length).toBe(3);

    const s2 = open();
    await s2.load();
    const small = snap(3, 1, 1000);
    await s2.compact(small);
    await s2.close();
    const chunks = (await rawEntries()).filter(([k]) => k.startsWith('snap/data/'));
    expect(chunks.map(([k]) => k)).toEqual(['snap/data/00000000']);
    expect(hex(chunks[0]![1])).toBe(hex(small.data));
  });

  it('reads snapshots written with another chunk size, and replaces them cleanly', async () => {
    const a = open({ snapshotChunkSize: 10 });
    await a.load();
    await a.save({ entries: ents(1, 5, 1), hardState: hs(1, 5) }, true);
    const first = snap(2, 1, 95);
    await a.compact(first);
    await a.close();
    const b = open({ snapshotChunkSize: 64 });
    await b.load();
    expect(hex((await b.readSnapshot())!.data)).toBe(hex(first.data));
    const second = snap(4, 1, 100);
    await b.compact(second);
    await b.close();
    const keys = (await rawEntries()).map(([k]) => k).filter((k) => k.startsWith('snap/data/'));
    expect(keys).toEqual(['snap/data/00000000', 'snap/data/00000001']); // the ten 10-byte chunks are gone
    const c = open();
    await c.load();
    expect(hex((await c.readSnapshot())!.data)).toBe(hex(second.data));
  });

  it('writes each call as one batch, synced when required', async () => {
    const s = open({ snapshotChunkSize: 100 });
    await s.load();
    const batch = vi.spyOn(Level.prototype, 'batch');
    await s.save({ entries: ents(1, 6, 1), hardState: hs(1, 3) }, true);
    await s.save({ entries: [], hardState: hs(1, 4) }, false);
    await s.save({ entries: ents(5, 7, 2), hardState: hs(2, 4) }, true); // truncates 5..6 and appends 5..7
    await s.compact(snap(3, 1, 250));
    await s.save({ snapshot: snap(9, 3, 120), entries: [normal(10, 3)], hardState: hs(3, 9) }, true);
    await s.setIdentity({ clusterId: 'c', nodeId: 'n1' });
    await s.save({ entries: [] }, true); // nothing to write
    const calls = batch.mock.calls as unknown as [{ type: string; key: string }[], { sync?: boolean }][];
    expect(calls.map(([, o]) => o.sync)).toEqual([true, false, true, true, true, true]);
    const keys = (i: number, type: string): string[] => calls[i]![0].filter((op) => op.type === type).map((op) => op.key);
    expect(keys(2, 'put')).toEqual(['log/0000000000000005', 'log/0000000000000006', 'log/0000000000000007', 'meta/hard-state']);
    expect(keys(2, 'del')).toEqual([]);
    expect(keys(3, 'del')).toEqual(['log/0000000000000001', 'log/0000000000000002', 'log/0000000000000003']);
    expect(keys(3, 'put')).toEqual(['snap/data/00000000', 'snap/data/00000001', 'snap/data/00000002', 'snap/meta']);
    // The received snapshot drops the whole remaining log and the extra old chunk in the same batch.
    expect(keys(4, 'del')).toEqual(['log/0000000000000004', 'log/0000000000000005', 'log/0000000000000006', 'log/0000000000000007', 'snap/data/00000002']);
    expect(keys(4, 'put')).toEqual(['snap/data/00000000', 'snap/data/00000001', 'snap/meta', 'log/000000000000000a', 'meta/hard-state']);
  });

  it('creates a missing data dir, including its parents', async () => {
    const s = new LevelStorage(join(dir, 'a', 'b', 'data'));
    storages.push(s);
    expect((await s.load()).entries).toEqual([]);
    await s.save({ entries: ents(1, 1, 1) }, true);
    expect((await s.load()).entries.length).toBe(1);
  });
});
