/**
 * A 3-node Latch cluster of real `latch server` processes (test/helpers/local-cluster.ts) with
 * production timings (heartbeat 100 ms, election timeout 1000 ms), data on disk in a temp dir and
 * fsync on (the server's only mode). Needs the built CLI (`npx tsc -p tsconfig.json`).
 */
import { existsSync } from 'node:fs';
import { CLI, startTestCluster } from '../test/helpers/local-cluster.js';
import { promSum } from './prom-text.js';
import { trackPid, untrackPid } from './processes.js';
import type { Cluster, KilledNode } from './types.js';

/** Why Latch cannot run, or undefined if the built CLI is there. */
export function latchUnavailable(): string | undefined {
  return existsSync(CLI) ? undefined : `${CLI} is missing: build first (npx tsc -p tsconfig.json)`;
}

/**
 * Starts the cluster and waits for a leader every node agrees on. With `profileDir`, every server
 * runs under `node --cpu-prof` and is stopped with SIGTERM so it writes its profile there.
 */
export async function startLatchCluster(profileDir?: string): Promise<Cluster> {
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const tc = await startTestCluster({ nodes: 3, heartbeatMs: 100, electionTimeoutMs: 1000, logLevel: 'warn', nodeArgs });
  const tracked = new Set<number>();
  const track = (): void => {
    for (const n of tc.nodes) {
      const pid = tc.pid(n.id);
      if (pid !== undefined && !tracked.has(pid)) {
        tracked.add(pid);
        trackPid(pid);
      }
    }
  };
  track();
  const leader = async (timeoutMs = 20_000): Promise<{ id: string; pid: number }> => {
    const id = await tc.leader(timeoutMs);
    const pid = tc.pid(id);
    if (pid === undefined) throw new Error(`Latch leader ${id} has no running process`);
    return { id, pid };
  };
  return {
    system: 'latch',
    endpoints: tc.endpoints,
    settings: 'heartbeat 100 ms, election timeout 1000 ms, segment log with fdatasync on every Raft write',
    leader,
    killLeader: async (): Promise<KilledNode> => {
      const l = await leader();
      const killedAt = performance.now();
      await tc.kill(l.id, 'SIGKILL');
      untrackPid(l.pid);
      return { id: l.id, pid: l.pid, killedAt };
    },
    restart: async (id: string) => {
      await tc.start(id);
      track();
      await tc.leader();
    },
    pids: () => tc.nodes.map((n) => tc.pid(n.id)).filter((p): p is number => p !== undefined),
    serverKeepalives: async () => {
      let total = 0;
      for (const n of tc.nodes) {
        if (tc.pid(n.id) === undefined) continue;
        const res = await fetch(`http://${n.httpAddress}/metrics`, { signal: AbortSignal.timeout(2000) });
        total += promSum(await res.text(), 'latch_keepalives_total') ?? 0;
      }
      return total;
    },
    stop: async () => {
      if (profileDir !== undefined) await Promise.all(tc.nodes.map((n) => tc.kill(n.id, 'SIGTERM')));
      await tc.stop();
      for (const pid of tracked) untrackPid(pid);
    },
  };
}
