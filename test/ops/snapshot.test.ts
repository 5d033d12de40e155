/**
 * Backup round trip (issue 7): `latch snapshot save` from a live cluster, `latch snapshot restore`
 * into three new data dirs, a new cluster started from them holds exactly the saved state (a lock
 * taken before the save, not one taken after), has a new cluster id, and accepts writes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient } from '../../src/client/index.js';
import { localClusterLayout, serverArgsFor } from '../../src/cli/cluster-up.js';
import { decodeSnapshotFile } from '../../src/server/snapshot-file.js';
import { CLI, freeBasePort, startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';

let source: TestCluster;
let dir: string;
const procs: ChildProcess[] = [];
const clients: LatchClient[] = [];

function latch(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-backup-'));
  source = await startTestCluster({ nodes: 3 });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const p of procs) {
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      process.kill(p.pid!, 'SIGKILL');
      await exited;
    }
  }
  await source?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('latch snapshot', () => {
  it('saves a consistent snapshot and restores it into a new cluster', async () => {
    const a = await LatchClient.connect({ endpoints: source.endpoints });
    clients.push(a);
    const s = await a.session({ ttlMs: 300_000 });
    const kept = await s.lock('backup/kept', { value: new TextEncoder().encode('v1') });
    const file = join(dir, 'backup.snap');
    const saved = latch(['snapshot', 'save', file, '--endpoints', source.endpoints.join(','), '--json']);
    expect(saved.code, saved.stderr).toBe(0);
    const info = JSON.parse(saved.stdout) as { index: number; clusterId: string };
    // Consistent: it includes every write acknowledged before the save (the grant's index is its token).
    expect(BigInt(info.index)).toBeGreaterThanOrEqual(kept.token);
    await s.lock('backup/after-save');

    const decoded = decodeSnapshotFile(readFileSync(file));
    expect(decoded.index).toBe(info.index);
    const sourceId = (await a.status()).clusterId;
    expect(decoded.clusterId).toBe(sourceId);

    const base = await freeBasePort(3);
    const layout = localClusterLayout(3, join(dir, 'new'), base);
    const initial = layout.map((n) => `${n.id}=${n.peerAddress}/${n.clientAddress}`).join(',');
    for (const n of layout) {
      const r = latch(['snapshot', 'restore', file, '--dir', n.dataDir, '--id', n.id, '--initial-cluster', initial]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`restored index ${info.index}`);
    }
    for (const n of layout) {
      procs.push(spawn(process.execPath, [CLI, ...serverArgsFor(n, layout, 'info'), '--heartbeat-ms', '50', '--election-timeout-ms', '500'], { stdio: ['ignore', 'ignore', 'ignore'] }));
    }
    const b = await waitFor(
      async () => {
        const c = await LatchClient.connect({ endpoints: layout.map((n) => n.clientAddress), connectTimeoutMs: 2_000 });
        clients.push(c);
        return c;
      },
      30_000,
      'the restored cluster to answer',
    );
    const locks = await waitFor(async () => b.locks('backup/'), 30_000, 'the restored cluster to serve reads');
    expect(locks.map((l) => l.name)).toEqual(['backup/kept']);
    expect(locks[0]!.holders.map((h) => h.token)).toEqual([kept.token]);
    expect(new TextDecoder().decode(locks[0]!.value)).toBe('v1');
    const st = await b.status();
    expect(st.clusterId).not.toBe(sourceId);
    expect(st.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    // It takes writes, with fencing tokens above everything restored.
    const s2 = await b.session({ ttlMs: 30_000 });
    const fresh = await s2.lock('backup/new');
    expect(fresh.token).toBeGreaterThan(BigInt(info.index));
    await s2.close();
  });

  it('refuses damaged files, non-empty dirs and an id outside the new cluster, writing nothing', async () => {
    const file = join(dir, 'backup.snap');
    const bytes = readFileSync(file);
    const damaged = join(dir, 'damaged.snap');
    const copy = Buffer.from(bytes);
    copy[copy.length - 10] = copy[copy.length - 10]! ^ 0xff;
    writeFileSync(damaged, copy);
    const initial = 'n1=127.0.0.1:1101/127.0.0.1:1001';
    const target = join(dir, 'fresh');
    const bad = latch(['snapshot', 'restore', damaged, '--dir', target, '--id', 'n1', '--initial-cluster', initial]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not a usable Latch snapshot file/);
    const garbage = join(dir, 'garbage.snap');
    writeFileSync(garbage, 'hello');
    expect(latch(['snapshot', 'restore', garbage, '--dir', target, '--id', 'n1', '--initial-cluster', initial]).stderr).toMatch(/not a usable Latch snapshot file/);
    const outside = latch(['snapshot', 'restore', file, '--dir', target, '--id', 'n2', '--initial-cluster', initial]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain('does not include --id n2');
    const notEmpty = latch(['snapshot', 'restore', file, '--dir', dir, '--id', 'n1', '--initial-cluster', initial]);
    expect(notEmpty.code).toBe(2);
    expect(notEmpty.stderr).toContain('is not empty');
    expect(() => readFileSync(join(target, 'raft', 'CURRENT'))).toThrow();
  });
});
