/**
 * `latch snapshot save FILE` (a consistent snapshot streamed from the leader) and
 * `latch snapshot restore FILE --dir DIR --id ID --initial-cluster …` (seeds the data dir of one node
 * of a NEW cluster from it, as `etcdctl snapshot restore` does: new cluster id, new membership; run it
 * once per node with the same file and initial cluster, then start every node).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../client/index.js';
import { encode } from '../common/codec.js';
import { LatchError } from '../common/errors.js';
import { isNodeId } from '../common/ids.js';
import { formatInitialCluster, parseInitialCluster, type MemberInfo } from '../node/members.js';
import type { SnapshotEnvelope } from '../node/raft-node.js';
import { decodeSnapshotFile, sha256Hex, type SnapshotFile } from '../server/snapshot-file.js';
import { openRaftStorage } from '../storage/index.js';
import { EXIT, resolveEndpoints, runCommand, type ClientCommandOptions } from './commands/cli-support.js';
import { AdminClient } from './members.js';

/** One SnapshotSave message. */
interface WireChunk {
  data: Buffer;
  index: string;
  term: string;
  totalBytes: string;
  sha256: string;
}

/** Streams a snapshot from the leader and checks its size and checksum; resolves with the file bytes. */
export async function fetchSnapshot(admin: AdminClient): Promise<{ bytes: Buffer; file: SnapshotFile }> {
  const parts: Buffer[] = [];
  let header: WireChunk | undefined;
  await admin.stream('snapshotSave', {}, (m) => {
    const c = m as WireChunk;
    header ??= c;
    parts.push(c.data);
  });
  if (!header) throw new LatchError('INVALID_ARGUMENT', 'the leader sent no snapshot');
  const bytes = Buffer.concat(parts);
  if (bytes.length !== Number(header.totalBytes)) throw new LatchError('INVALID_ARGUMENT', `snapshot truncated: got ${bytes.length} of ${header.totalBytes} bytes`);
  if (sha256Hex(bytes) !== header.sha256) throw new LatchError('INVALID_ARGUMENT', 'snapshot checksum mismatch in transit');
  return { bytes, file: decodeSnapshotFile(bytes) };
}

/** Writes `bytes` to `path` atomically (temp file, fsync, rename). */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes, { flag: 'wx', mode: 0o600 });
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The new cluster's id: the same on every restored node (same token, members and file), new each restore source. */
export function restoredClusterId(token: string, members: readonly MemberInfo[], file: SnapshotFile): string {
  const ids = members.map((m) => m.id).sort().join(',');
  return createHash('sha256').update(`${token}\n${ids}\nrestore:${file.smSha256}:${file.index}`).digest('hex').slice(0, 16);
}

/** Options of `restoreSnapshot`. */
export interface RestoreOptions {
  readonly file: string;
  readonly dir: string;
  readonly id: string;
  readonly initialCluster: string;
  readonly clusterToken?: string;
}

/**
 * Seeds `dir` (absent or empty) for node `id` of a new cluster: identity, a snapshot at the file's
 * index whose configuration is the new membership (all voters), and a hard state at its term.
 */
export async function restoreSnapshot(o: RestoreOptions): Promise<{ clusterId: string; index: number; members: MemberInfo[] }> {
  if (!isNodeId(o.id)) throw new InvalidArgumentError(`--id: "${o.id}" is not a node id`);
  const members = parseInitialCluster(o.initialCluster, 'initial-cluster');
  if (!members.some((m) => m.id === o.id)) throw new InvalidArgumentError(`--initial-cluster does not include --id ${o.id}`);
  let raw: Buffer;
  try {
    raw = readFileSync(o.file);
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const file = decodeSnapshotFile(raw);
  const dir = resolve(o.dir);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new InvalidArgumentError(`--dir ${dir} is not empty; restore only into a new data dir`);
  const clusterId = restoredClusterId(o.clusterToken ?? 'latch', members, file);
  const storage = openRaftStorage(join(dir, 'raft'));
  try {
    await storage.load();
    await storage.setIdentity({ clusterId, nodeId: o.id });
    const envelope: SnapshotEnvelope = { members, sm: file.sm };
    await storage.save(
      {
        hardState: { term: file.term, vote: null, commit: file.index },
        entries: [],
        snapshot: { meta: { index: file.index, term: file.term, confState: { voters: members.map((m) => m.id), learners: [] } }, data: encode(envelope) },
      },
      true,
    );
  } finally {
    await storage.close();
  }
  return { clusterId, index: file.index, members };
}

interface SnapshotOptions extends ClientCommandOptions {
  readonly dir?: string;
  readonly id?: string;
  readonly initialCluster?: string;
  readonly clusterToken?: string;
}

/** Registers `latch snapshot`. */
export function registerSnapshotCommand(program: Command): void {
  const snapshot = program.command('snapshot').description('back up the cluster state and seed a new cluster from a backup');
  snapshot
    .command('save')
    .description('save a consistent snapshot from the leader (needs the admin permission)')
    .argument('<file>', 'where to write it (replaced atomically)')
    .option('--endpoints <list>', 'comma-separated client endpoints (default LATCH_ENDPOINTS or 127.0.0.1:7001-7003)')
    .option('--json', 'print JSON')
    .action((path: string, opts: SnapshotOptions) =>
      runCommand(async () => {
        const admin = new AdminClient(resolveEndpoints(opts.endpoints));
        try {
          const { bytes, file } = await fetchSnapshot(admin);
          writeAtomically(path, bytes);
          const out = { file: path, index: file.index, term: file.term, bytes: bytes.length, clusterId: file.clusterId };
          process.stdout.write(opts.json ? `${JSON.stringify(out)}\n` : `saved the state at index ${file.index} (term ${file.term}, ${bytes.length} bytes) of cluster ${file.clusterId} to ${path}\n`);
          return EXIT.OK;
        } finally {
          admin.close();
        }
      }),
    );
  snapshot
    .command('restore')
    .description('seed the empty data dir of one node of a new cluster from a snapshot file (run it for every node)')
    .argument('<file>', 'a file written by `latch snapshot save`')
    .requiredOption('--dir <dir>', 'the new node\'s data dir (absent or empty)')
    .requiredOption('--id <id>', 'the new node\'s id')
    .requiredOption('--initial-cluster <list>', 'the NEW cluster: id=peerHost:port/clientHost:port,…')
    .option('--cluster-token <token>', 'as given to `latch server --cluster-token`', 'latch')
    .option('--json', 'print JSON')
    .action((path: string, opts: SnapshotOptions) =>
      runCommand(async () => {
        const r = await restoreSnapshot({ file: path, dir: opts.dir!, id: opts.id!, initialCluster: opts.initialCluster!, clusterToken: opts.clusterToken ?? 'latch' });
        const out = { dir: resolve(opts.dir!), id: opts.id, index: r.index, clusterId: r.clusterId };
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(out)}\n`
            : `restored index ${r.index} into ${out.dir} as ${opts.id} of new cluster ${r.clusterId}; start it with:\n  latch server --id ${opts.id} --data-dir ${out.dir} --initial-cluster ${formatInitialCluster(r.members)}\n`,
        );
        return EXIT.OK;
      }),
    );
}
