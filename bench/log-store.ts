/**
 * CPU cost of the Raft log stores (issue 13, point 3): per appended entry and per fsync'd Ready
 * (one `save({ entries, hardState }, true)`), for batches of lock-command-sized entries.
 *
 *   level        today's LevelStorage: one LevelDB key per entry
 *   batch-level  option (a), a prototype (bench/log-store-batch-level.ts): one LevelDB record per Ready
 *   segment      option (b), SegmentStorage: append-only segment files, one frame + fdatasync per Ready
 *
 * Every (store, batch size, repeat) runs in its own child process on a fresh store in a temp dir
 * under the OS temp dir (removed afterwards), so process-wide CPU time (process.cpuUsage: every
 * thread, LevelDB's background compaction and libuv's pool included) belongs to that store alone;
 * repeats are interleaved across stores so a noisy neighbour hits all of them alike. Inputs are
 * built before the clock starts; a warm-up of `--warmup` Readies is not counted. Like a follower,
 * the store is compacted every `--compact-every` entries (a 64 KiB snapshot at the commit index),
 * inside the timed loop. Wall time is shown but is mostly the disk's fsync latency.
 *
 *   npx tsx bench/log-store.ts [--repeats 5] [--readies 1000] [--warmup 200] [--batches 1,8,64]
 *                              [--stores level,batch-level,segment] [--compact-every 10000] [--json]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { encode } from '../src/common/codec.js';
import type { Entry, HardState, Snapshot } from '../src/raft/types.js';
import { crc32c } from '../src/storage/crc32c.js';
import { LevelStorage } from '../src/storage/level-storage.js';
import { SegmentStorage } from '../src/storage/segment-storage.js';
import type { StorageWrite } from '../src/storage/types.js';
import { BatchLevelLog } from './log-store-batch-level.js';

const STORES = ['level', 'batch-level', 'segment'] as const;
type StoreName = (typeof STORES)[number];

/** What a child measured. */
interface Sample {
  readonly store: StoreName;
  readonly batch: number;
  readonly readies: number;
  readonly cpuUs: number;
  readonly wallUs: number;
  /** CPU of opening the fresh store (for segment: creating its first, preallocated segment). */
  readonly openCpuUs: number;
}

interface Store {
  save(write: StorageWrite, sync: boolean): Promise<void>;
  compact(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}

async function openStore(name: StoreName, path: string): Promise<Store> {
  switch (name) {
    case 'level': {
      const s = new LevelStorage(path);
      await s.load();
      return s;
    }
    case 'batch-level': {
      const s = new BatchLevelLog(path);
      await s.open();
      return s;
    }
    case 'segment': {
      const s = new SegmentStorage(path);
      await s.load();
      return s;
    }
  }
}

/** A deterministic lock command of 100–200 bytes, encoded as the state machine's entries are. */
function command(i: number): Uint8Array {
  const body = {
    type: 'acquire',
    sessionId: 1000 + (i % 37),
    requestSeq: i,
    name: `jobs/nightly-${i % 97}`,
    mode: i % 5 === 0 ? 'shared' : 'exclusive',
    waitMs: 5000,
    client: `client-${(i * 2654435761) >>> 0}`,
  };
  const base = encode(body).length;
  const want = 100 + ((i * 7919) % 101);
  const pad = new Uint8Array(Math.max(0, want - base - 4));
  for (let k = 0; k < pad.length; k++) pad[k] = (i * 31 + k * 17) & 0xff;
  return encode({ ...body, value: pad });
}

/** The Readies of one run: `count` batches of `batch` entries from index `from`, with a follower's hard state. */
function readies(from: number, count: number, batch: number): { entries: Entry[]; hardState: HardState }[] {
  const out: { entries: Entry[]; hardState: HardState }[] = [];
  let next = from;
  for (let r = 0; r < count; r++) {
    const entries: Entry[] = [];
    for (let k = 0; k < batch; k++, next++) entries.push({ type: 'normal', index: next, term: 1, data: command(next) });
    out.push({ entries, hardState: { term: 1, vote: 'n1', commit: Math.max(0, next - 1 - batch) } });
  }
  return out;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function child(store: StoreName, batch: number, count: number, warmup: number, compactEvery: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-log-bench-'));
  try {
    const c0 = cpuNow();
    const s = await openStore(store, join(dir, 'data'));
    const openCpuUs = cpuNow() - c0;
    const warm = readies(1, warmup, batch);
    const timed = readies(1 + warmup * batch, count, batch);
    const snapData = new Uint8Array(64 * 1024).fill(7);
    let sinceCompact = 0;
    let commit = 0;
    const run = async (rs: { entries: Entry[]; hardState: HardState }[]): Promise<void> => {
      for (const rd of rs) {
        await s.save(rd, true);
        commit = rd.hardState.commit;
        sinceCompact += rd.entries.length;
        if (sinceCompact >= compactEvery && commit > 0) {
          await s.compact({ meta: { index: commit, term: 1, confState: { voters: ['n1', 'n2', 'n3'], learners: [] } }, data: snapData });
          sinceCompact = 0;
        }
      }
    };
    await run(warm);
    const cpu0 = cpuNow();
    const wall0 = performance.now();
    await run(timed);
    const cpuUs = cpuNow() - cpu0;
    const wallUs = (performance.now() - wall0) * 1000;
    await s.close();
    const sample: Sample = { store, batch, readies: count, cpuUs, wallUs, openCpuUs };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const here = dirname(fileURLToPath(import.meta.url));

function runChild(args: readonly string[]): Promise<Sample> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(here, 'log-store.ts'), '--child', ...args], { cwd: resolve(here, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', rej);
    p.once('exit', (code) => {
      if (code !== 0) return rej(new Error(`benchmark child ${args.join(' ')} exited with ${String(code)}`));
      try {
        res(JSON.parse(out.trim().split('\n').pop()!) as Sample);
      } catch (err) {
        rej(err as Error);
      }
    });
  });
}

function stats(xs: readonly number[]): { mean: number; sd: number; min: number; max: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

function fmt(xs: readonly number[]): string {
  const s = stats(xs);
  const d = s.mean < 10 ? 2 : s.mean < 100 ? 1 : 0;
  return `${s.mean.toFixed(d)} ±${s.sd.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
}

/** CPU µs of one checksum of `size` bytes, JS CRC-32C against node:zlib's CRC-32/IEEE. */
function crcCost(size: number): { crc32c: number; zlib: number } {
  const b = new Uint8Array(size).map((_, i) => (i * 131) & 0xff);
  const time = (f: (x: Uint8Array) => number): number => {
    let acc = 0;
    const n = Math.max(200, Math.floor(2e7 / size));
    for (let i = 0; i < n; i++) acc ^= f(b); // warm-up
    const c0 = cpuNow();
    for (let i = 0; i < n; i++) acc ^= f(b);
    if (acc === 0.5) console.log(acc);
    return (cpuNow() - c0) / n;
  };
  return { crc32c: time((x) => crc32c(x)), zlib: time((x) => crc32(x)) };
}

function option(argv: readonly string[], name: string, def: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    const [, store, batch, count, warmup, compactEvery] = argv;
    if (!STORES.includes(store as StoreName)) throw new Error(`unknown store ${String(store)}`);
    await child(store as StoreName, Number(batch), Number(count), Number(warmup), Number(compactEvery));
    return;
  }
  const repeats = Number(option(argv, 'repeats', '5'));
  const count = Number(option(argv, 'readies', '1000'));
  const warmup = option(argv, 'warmup', '200');
  const compactEvery = option(argv, 'compact-every', '10000');
  const batches = option(argv, 'batches', '1,8,64').split(',').map(Number);
  const stores = option(argv, 'stores', STORES.join(',')).split(',') as StoreName[];
  for (const s of stores) if (!STORES.includes(s)) throw new Error(`unknown store ${s}`);
  const samples: Sample[] = [];
  process.stderr.write(`log-store benchmark: ${repeats} repeats × ${count} fsync'd Readies per store and batch size, compaction every ${compactEvery} entries\n`);
  for (let r = 0; r < repeats; r++) {
    for (const batch of batches) {
      // Rotate the order each repeat, so no store always runs right after another.
      const order = stores.map((_, k) => stores[(k + r) % stores.length]!);
      for (const store of order) {
        samples.push(await runChild([store, String(batch), String(count), warmup, compactEvery]));
        process.stderr.write('.');
      }
    }
  }
  process.stderr.write('\n');
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(samples)}\n`);
    return;
  }
  const rows: string[][] = [['store', 'batch', 'CPU µs/entry', 'CPU µs/Ready', 'wall µs/Ready', 'CPU vs level']];
  for (const batch of batches) {
    const levelMean = stats(samples.filter((s) => s.store === 'level' && s.batch === batch).map((s) => s.cpuUs / s.readies)).mean;
    for (const store of stores) {
      const ss = samples.filter((s) => s.store === store && s.batch === batch);
      const perReady = ss.map((s) => s.cpuUs / s.readies);
      rows.push([
        store,
        String(batch),
        fmt(ss.map((s) => s.cpuUs / s.readies / batch)),
        fmt(perReady),
        fmt(ss.map((s) => s.wallUs / s.readies)),
        Number.isFinite(levelMean) ? `${(stats(perReady).mean / levelMean).toFixed(2)}×` : '-',
      ]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) console.log(row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  console.log('(mean ±sd (min–max) over repeats; CPU = user + system time of the whole process)');
  const open = samples.filter((s) => s.store === 'segment').map((s) => s.openCpuUs / 1000);
  if (open.length > 0) console.log(`segment: opening a fresh store (creating one preallocated 64 MiB segment): ${fmt(open)} ms CPU`);
  const frame = 64 * 170;
  const crc = crcCost(frame);
  console.log(`checksum of a 64-entry frame (${frame} B): CRC-32C (JS, slicing-by-8) ${crc.crc32c.toFixed(2)} µs, zlib crc32 (IEEE) ${crc.zlib.toFixed(2)} µs CPU`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`log-store benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
