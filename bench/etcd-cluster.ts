/**
 * A 3-member etcd cluster on 127.0.0.1 (Debian's `etcd-server`): one `etcd` process per member,
 * static `--initial-cluster`, data in a temp dir, etcd's default timings (heartbeat 100 ms,
 * election 1000 ms) and durability (fsync of the WAL on every commit).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { pollUntil, spawnManaged, type ManagedProcess } from './processes.js';
import type { Cluster, KilledNode } from './types.js';

/** Path of the etcd binary, or undefined if it is not installed. */
export function etcdBinary(): string | undefined {
  for (const p of ['/usr/bin/etcd', '/usr/local/bin/etcd']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** `etcd 3.4.23`-style version of the binary. */
export function etcdVersion(bin: string): string {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  const m = /etcd Version:\s*(\S+)/.exec(out);
  return `etcd ${m?.[1] ?? 'unknown'}`;
}

interface Member {
  readonly id: string;
  readonly clientUrl: string;
  readonly args: readonly string[];
}

interface MaintenanceStatus {
  readonly header?: { readonly member_id?: string };
  readonly leader?: string;
}

async function memberStatus(m: Member): Promise<MaintenanceStatus> {
  const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
  if (!res.ok) throw new Error(`status ${res.status}`);
  return (await res.json()) as MaintenanceStatus;
}

async function healthy(m: Member): Promise<boolean> {
  const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { health?: string };
  return body.health === 'true';
}

/** Starts the cluster and waits until every member is healthy and one is leader. */
export async function startEtcdCluster(bin: string): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-bench-etcd-'));
  const ports = await freePorts(6);
  const ids = ['e1', 'e2', 'e3'];
  const peerUrl = (i: number): string => `http://127.0.0.1:${ports[3 + i]!}`;
  const initial = ids.map((id, i) => `${id}=${peerUrl(i)}`).join(',');
  const members: Member[] = ids.map((id, i) => {
    const clientUrl = `http://127.0.0.1:${ports[i]!}`;
    return {
      id,
      clientUrl,
      args: [
        '--name', id,
        '--data-dir', join(dir, id),
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl(i),
        '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', initial,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', 'latch-bench',
        '--logger', 'zap',
        '--log-level', 'error',
      ],
    };
  });
  const procs = new Map<string, ManagedProcess>();
  const byId = (id: string): Member => {
    const m = members.find((x) => x.id === id);
    if (!m) throw new Error(`no etcd member ${id}`);
    return m;
  };
  const running = (): Member[] => members.filter((m) => procs.get(m.id)?.exited === false);
  const launch = (m: Member): void => {
    procs.set(m.id, spawnManaged(`etcd ${m.id}`, bin, m.args));
  };
  const diagnostics = (): string => members.map((m) => `--- ${m.id} ---\n${procs.get(m.id)?.output() ?? ''}`).join('\n');

  const waitWhole = async (): Promise<void> => {
    await pollUntil('every etcd member healthy', 30_000, async () => {
      for (const m of members) {
        if (procs.get(m.id)?.exited !== false) throw new Error(`etcd ${m.id} exited\n${diagnostics()}`);
        if (!(await healthy(m))) return undefined;
      }
      return true;
    });
  };

  const leader = async (timeoutMs = 20_000): Promise<{ id: string; pid: number }> =>
    pollUntil('an etcd leader', timeoutMs, async () => {
      for (const m of running()) {
        const st = await memberStatus(m).catch(() => undefined);
        if (!st?.leader || st.leader === '0') continue;
        if (st.header?.member_id === st.leader) return { id: m.id, pid: procs.get(m.id)!.pid };
        // Ask the member the others name as leader.
        for (const other of running()) {
          const o = await memberStatus(other).catch(() => undefined);
          if (o?.header?.member_id === st.leader && o.leader === st.leader) return { id: other.id, pid: procs.get(other.id)!.pid };
        }
      }
      return undefined;
    });

  const stop = async (): Promise<void> => {
    await Promise.all([...procs.values()].map((p) => p.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const m of members) launch(m);
    await waitWhole();
    await leader();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    system: 'etcd',
    endpoints: members.map((m) => m.clientUrl.replace('http://', '')),
    settings: 'defaults: heartbeat 100 ms, election timeout 1000 ms, WAL fsync per commit',
    leader,
    killLeader: async (): Promise<KilledNode> => {
      const l = await leader();
      const p = procs.get(l.id)!;
      const killedAt = performance.now();
      await p.kill('SIGKILL');
      return { id: l.id, pid: l.pid, killedAt };
    },
    restart: async (id: string) => {
      const m = byId(id);
      if (procs.get(id)?.exited === false) throw new Error(`etcd ${id} is still running`);
      launch(m);
      await waitWhole();
      await leader();
    },
    pids: () => running().map((m) => procs.get(m.id)!.pid),
    stop,
  };
}
