/**
 * Child process of the crash and lock tests; run with `node --import tsx`.
 *   run <dir> <seed> <length> <from> [store]  applies plan ops from..length-1, printing `ack <n>` after each resolves, then `done`.
 *   hold <dir> [store]                        opens the storage, prints `ready` and keeps its LOCK until killed.
 * `store` is `level` (LevelStorage, the default) or `segment` (SegmentStorage with CRASH_SEGMENT_BYTES segments).
 * stdout is a pipe, and pipe writes are synchronous on Linux, so an `ack` line is out before the next write starts.
 */
import { LevelStorage } from '../../src/storage/level-storage.js';
import { SegmentStorage } from '../../src/storage/segment-storage.js';
import type { RaftStorage } from '../../src/storage/types.js';
import { CRASH_CHUNK_SIZE, CRASH_SEGMENT_BYTES, applyOp, buildPlan } from './crash-plan.js';

async function main(argv: readonly string[]): Promise<void> {
  const [mode, dir] = argv;
  if (!dir || (mode !== 'run' && mode !== 'hold')) throw new Error('usage: crash-writer run <dir> <seed> <length> <from> [store] | hold <dir> [store]');
  const [seedArg, lengthArg, fromArg, runStore] = argv.slice(2);
  const store = mode === 'run' ? runStore : argv[2];
  const storage: RaftStorage =
    store === 'segment'
      ? new SegmentStorage(dir, { snapshotChunkSize: CRASH_CHUNK_SIZE, segmentBytes: CRASH_SEGMENT_BYTES })
      : new LevelStorage(dir, { snapshotChunkSize: CRASH_CHUNK_SIZE });
  await storage.load();
  if (mode === 'hold') {
    process.stdout.write('ready\n');
    setInterval(() => undefined, 1 << 30); // stay alive until killed
    return;
  }
  const plan = buildPlan(Number(seedArg), Number(lengthArg));
  process.stdout.write('ready\n');
  for (let n = Number(fromArg); n < plan.length; n++) {
    await applyOp(storage, plan[n]!, n);
    process.stdout.write(`ack ${n}\n`);
  }
  await storage.close();
  process.stdout.write('done\n');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`crash-writer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
