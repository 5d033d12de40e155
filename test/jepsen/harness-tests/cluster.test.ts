import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, type NodeExit, type NodeSpec } from '../harness/cluster.js';
import { MonoClock } from '../harness/mono-clock.js';
import { freePorts } from '../harness/proxy-network.js';
import { until } from './net-helpers.js';

/** A stand-in node: serves `/status` on 127.0.0.1, prints a line, and exits with code 3 on `/crash`. */
const FAKE_NODE = `
const [id, port, role] = process.argv.slice(1);
console.log('fake node', id, 'up', 'extra args:', process.argv.slice(4).join(' ') || 'none');
require('node:http').createServer((req, res) => {
  if (req.url === '/crash') { res.end('bye'); setTimeout(() => process.exit(3), 10); return; }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ id, role, term: 4, leader: 'n1', commitIndex: 9, appliedIndex: 9 }));
}).listen(Number(port), '127.0.0.1');
`;

const dirs: string[] = [];
const clusters: Cluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stopAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function fakeCluster(crashes: NodeExit[]): Promise<{ cluster: Cluster; specs: NodeSpec[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'jepsen-cluster-'));
  dirs.push(dir);
  const ports = await freePorts(3);
  const specs: NodeSpec[] = ['n1', 'n2', 'n3'].map((id, i) => ({
    id,
    command: process.execPath,
    args: ['-e', FAKE_NODE, id, String(ports[i]), id === 'n1' ? 'leader' : 'follower'],
    httpAddress: `127.0.0.1:${ports[i]}`,
    clientAddress: `127.0.0.1:${ports[i]}`,
    logFile: join(dir, `${id}.log`),
    dataDir: join(dir, `data-${id}`),
  }));
  const cluster = new Cluster(specs, { clock: new MonoClock(), onCrash: (e) => crashes.push(e) });
  clusters.push(cluster);
  await Promise.all(specs.map((s) => cluster.start(s.id)));
  return { cluster, specs };
}

function procState(pid: number): string {
  // /proc/<pid>/stat: "pid (comm) S ..."; the state letter follows the command name.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('Cluster', () => {
  it('starts nodes, reads their status, and agrees on the leader', async () => {
    const crashes: NodeExit[] = [];
    const { cluster, specs } = await fakeCluster(crashes);
    expect(cluster.ids).toEqual(['n1', 'n2', 'n3']);
    expect(await cluster.status('n2')).toEqual({ id: 'n2', role: 'follower', term: 4, leader: 'n1', commitIndex: 9, appliedIndex: 9 });
    expect(await cluster.leader()).toBe('n1');
    expect(await cluster.waitForLeader(5_000)).toBe('n1');
    expect(readFileSync(specs[0]!.logFile, 'utf8')).toContain('fake node n1 up');
    expect(cluster.pidMap().size).toBe(3);
  });

  it.runIf(process.platform === 'linux')('pauses and resumes a node by PID', async () => {
    const { cluster } = await fakeCluster([]);
    const pid = cluster.pid('n2')!;
    cluster.pause('n2');
    await until(() => procState(pid) === 'T', 'the process to stop');
    expect(cluster.state('n2')).toBe('paused');
    expect(await cluster.status('n2')).toBeUndefined();
    cluster.resume('n2');
    expect(await cluster.status('n2')).toMatchObject({ id: 'n2' });
  });

  it('kills and restarts a node, and tells expected exits from crashes', async () => {
    const crashes: NodeExit[] = [];
    const { cluster, specs } = await fakeCluster(crashes);
    const first = cluster.pid('n3');
    await cluster.kill('n3');
    expect(cluster.state('n3')).toBe('stopped');
    expect(cluster.pid('n3')).toBeUndefined();
    await cluster.start('n3');
    expect(cluster.pid('n3')).not.toBe(first);
    await fetch(`http://${specs[1]!.httpAddress}/crash`);
    await until(() => crashes.length === 1, 'the crash to be noticed');
    expect(crashes[0]).toMatchObject({ id: 'n2', code: 3, expected: false });
    expect(cluster.state('n2')).toBe('stopped');
    expect(cluster.exits().filter((e) => e.expected).map((e) => e.id)).toEqual(['n3']);
    await expect(cluster.start('n1')).rejects.toThrow(/already running/);
  });

  it('stopAll kills paused nodes too', async () => {
    const { cluster } = await fakeCluster([]);
    cluster.pause('n1');
    await cluster.stopAll();
    expect(cluster.ids.map((id) => cluster.state(id))).toEqual(['stopped', 'stopped', 'stopped']);
    expect(cluster.exits()).toHaveLength(3);
    expect(cluster.exits().every((e) => e.expected && e.signal === 'SIGKILL')).toBe(true);
  });

  it('wipes a stopped node only, and starts a node given a cluster to join with --join from then on', async () => {
    const { cluster, specs } = await fakeCluster([]);
    const dataDir = specs[1]!.dataDir!;
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'state'), 'old');
    expect(() => cluster.wipe('n2')).toThrow(/running/);
    await cluster.kill('n2');
    cluster.wipe('n2');
    expect(existsSync(dataDir)).toBe(false);
    cluster.setJoin('n2', 'c0ffee');
    expect(cluster.joinOf('n2')).toBe('c0ffee');
    await cluster.start('n2');
    await cluster.kill('n2');
    await cluster.start('n2');
    const lines = readFileSync(specs[1]!.logFile, 'utf8').trim().split('\n');
    expect(lines).toEqual(['fake node n2 up extra args: none', 'fake node n2 up extra args: --join c0ffee', 'fake node n2 up extra args: --join c0ffee']);
    expect(readFileSync(specs[0]!.logFile, 'utf8').trim()).toBe('fake node n1 up extra args: none');
    expect(cluster.joinOf('n1')).toBeUndefined();
  });
});
