/**
 * A 3-server ZooKeeper ensemble on 127.0.0.1 from Debian's `zookeeper` package: each server has
 * its own zoo.cfg, myid and dataDir in a temp dir and runs as
 * `java -cp zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg` (the jar's
 * manifest carries the rest of the class path). Settings are the package's zoo.cfg (tickTime 2000,
 * initLimit 10, syncLimit 5) with ZooKeeper's default durability (forceSync=yes: the transaction
 * log is fsynced before a write is acknowledged) and upstream zkServer.sh's 1000 MB heap; only the
 * loopback addresses, no client-connection cap and the admin words differ.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fourLetter, parseMntr, parseMode } from './four-letter.js';
import { freePorts } from './ports.js';
import { pollUntil, spawnManaged, type ManagedProcess } from './processes.js';
import type { Cluster, KilledNode } from './types.js';

const JAR_CANDIDATES = ['/usr/share/java/zookeeper.jar', '/usr/share/zookeeper/zookeeper.jar'];

/** Java and the ZooKeeper jar, or undefined if either is not installed. */
export function zookeeperInstall(): { readonly java: string; readonly jar: string } | undefined {
  const jar = JAR_CANDIDATES.find((p) => existsSync(p));
  if (!jar) return undefined;
  for (const java of ['/usr/bin/java', '/usr/local/bin/java']) {
    try {
      execFileSync(java, ['-version'], { stdio: 'ignore' });
      return { java, jar };
    } catch {
      // next
    }
  }
  return undefined;
}

/** `ZooKeeper 3.8.0`-style version of the installed jar (read from Version in the jar). */
export function zookeeperVersion(install: { readonly java: string; readonly jar: string }): string {
  try {
    const out = execFileSync(install.java, ['-cp', install.jar, 'org.apache.zookeeper.version.VersionInfoMain'], { encoding: 'utf8', timeout: 15_000 });
    const m = /(\d+\.\d+\.\d+)/.exec(out);
    return `ZooKeeper ${m?.[1] ?? out.trim()}`;
  } catch {
    return 'ZooKeeper (version unknown)';
  }
}

/** The zoo.cfg text of one server (pure). */
export function zooCfg(opts: { dataDir: string; clientPort: number; servers: readonly { id: number; quorumPort: number; electionPort: number }[] }): string {
  return [
    'tickTime=2000',
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${opts.dataDir}`,
    `clientPort=${opts.clientPort}`,
    'clientPortAddress=127.0.0.1',
    // One load generator on one address opens every connection: no per-IP cap.
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,mntr,ruok',
    ...opts.servers.map((s) => `server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort}`),
    '',
  ].join('\n');
}

/** Starts the ensemble and waits until every server reports a mode and one is leader. */
export async function startZkCluster(install: { readonly java: string; readonly jar: string }): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-bench-zk-'));
  const ports = await freePorts(9);
  const servers = [1, 2, 3].map((id) => ({ id, clientPort: ports[id - 1]!, quorumPort: ports[2 + id]!, electionPort: ports[5 + id]! }));
  const nodes = servers.map((s) => {
    const home = join(dir, `zk${s.id}`);
    const dataDir = join(home, 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'myid'), `${s.id}\n`);
    const cfg = join(home, 'zoo.cfg');
    writeFileSync(cfg, zooCfg({ dataDir, clientPort: s.clientPort, servers }));
    return {
      id: `zk${s.id}`,
      endpoint: `127.0.0.1:${s.clientPort}`,
      args: ['-Xmx1000m', `-Dzookeeper.log.dir=${home}`, '-cp', install.jar, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg],
    };
  });
  const procs = new Map<string, ManagedProcess>();
  const running = (): typeof nodes => nodes.filter((n) => procs.get(n.id)?.exited === false);
  const launch = (n: (typeof nodes)[number]): void => {
    procs.set(n.id, spawnManaged(`zookeeper ${n.id}`, install.java, n.args, { cwd: dir }));
  };
  const diagnostics = (): string => nodes.map((n) => `--- ${n.id} ---\n${procs.get(n.id)?.output().slice(-4000) ?? ''}`).join('\n');

  const modes = async (): Promise<Map<string, string | undefined>> => {
    const m = new Map<string, string | undefined>();
    await Promise.all(running().map(async (n) => m.set(n.id, parseMode(await fourLetter(n.endpoint, 'srvr').catch(() => '')))));
    return m;
  };

  const waitWhole = async (): Promise<void> => {
    await pollUntil('every ZooKeeper server serving', 60_000, async () => {
      for (const n of nodes) if (procs.get(n.id)?.exited !== false) throw new Error(`zookeeper ${n.id} exited\n${diagnostics()}`);
      const m = await modes();
      const all = nodes.every((n) => m.get(n.id) === 'leader' || m.get(n.id) === 'follower');
      return all && [...m.values()].filter((x) => x === 'leader').length === 1 ? true : undefined;
    });
  };

  const leader = async (timeoutMs = 30_000): Promise<{ id: string; pid: number }> =>
    pollUntil('a ZooKeeper leader', timeoutMs, async () => {
      const m = await modes();
      const ids = [...m.entries()].filter(([, mode]) => mode === 'leader').map(([id]) => id);
      return ids.length === 1 ? { id: ids[0]!, pid: procs.get(ids[0]!)!.pid } : undefined;
    });

  const stop = async (): Promise<void> => {
    await Promise.all([...procs.values()].map((p) => p.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const n of nodes) launch(n);
    await waitWhole();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    system: 'zk',
    endpoints: nodes.map((n) => n.endpoint),
    settings: 'package zoo.cfg: tickTime 2000 ms, initLimit 10, syncLimit 5, forceSync=yes, -Xmx1000m',
    leader,
    killLeader: async (): Promise<KilledNode> => {
      const l = await leader();
      const killedAt = performance.now();
      await procs.get(l.id)!.kill('SIGKILL');
      return { id: l.id, pid: l.pid, killedAt };
    },
    restart: async (id: string) => {
      const n = nodes.find((x) => x.id === id);
      if (!n) throw new Error(`no zookeeper server ${id}`);
      if (procs.get(id)?.exited === false) throw new Error(`zookeeper ${id} is still running`);
      launch(n);
      await waitWhole();
    },
    pids: () => running().map((n) => procs.get(n.id)!.pid),
    // Every packet a server receives while sessions are only being held is a ping.
    serverKeepalives: async () => {
      let total = 0;
      for (const n of running()) total += parseMntr(await fourLetter(n.endpoint, 'mntr')).zk_packets_received ?? 0;
      return total;
    },
    stop,
  };
}
