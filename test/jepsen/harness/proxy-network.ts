/**
 * The proxy network: every node listens on 127.0.0.1, and every directed peer link `a → b` goes
 * through a LinkProxy of its own: the initial cluster given to `a` names, for each peer `b`, the
 * proxy `a → b`. A node's own entry names a proxy into itself too, so a node that adopts another
 * node's address book from a snapshot still dials through proxies; connections are attributed to
 * the node that really opened them (`socket-owner.ts`), and get the faults of that real link.
 */
import { createServer } from 'node:net';
import { HarnessError } from './harness-error.js';
import { LinkFaultTable, blackhole, delayed, describeFault, type LinkFault } from './link-faults.js';
import type { Applied, Network, NodeLaunch, PartitionStyle } from './network.js';
import { describePartition, lostLinks, type Partition } from './partitions.js';
import { LinkProxy } from './proxy.js';
import { connectionOwner } from './socket-owner.js';

/** Options of `ProxyNetwork.create`. */
export interface ProxyNetworkOptions {
  readonly nodes: readonly string[];
  /** Live node PIDs → ids, for attributing connections; attribution is off when absent. */
  readonly pids?: () => ReadonlyMap<number, string>;
}

interface Ports {
  readonly client: number;
  readonly peer: number;
  readonly http: number;
}

const HOST = '127.0.0.1';

/** Reserves `n` distinct free ports on 127.0.0.1 (bound together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new HarnessError('NETWORK', 'no port');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** Proxies on 127.0.0.1; see the file comment. */
export class ProxyNetwork implements Network {
  readonly kind = 'proxy' as const;
  readonly table: LinkFaultTable;
  private closed = false;

  private constructor(
    readonly nodes: readonly string[],
    private readonly ports: ReadonlyMap<string, Ports>,
    private readonly proxies: ReadonlyMap<string, LinkProxy>,
    table: LinkFaultTable,
  ) {
    this.table = table;
  }

  /** Reserves ports and starts one proxy per directed link. */
  static async create(opts: ProxyNetworkOptions): Promise<ProxyNetwork> {
    const nodes = opts.nodes;
    if (nodes.length < 1) throw new HarnessError('BAD_OPTION', 'a cluster needs nodes');
    const table = new LinkFaultTable(nodes);
    const raw = await freePorts(nodes.length * 3);
    const ports = new Map<string, Ports>(nodes.map((id, i) => [id, { client: raw[3 * i]!, peer: raw[3 * i + 1]!, http: raw[3 * i + 2]! }]));
    const identify = opts.pids
      ? async (socket: import('node:net').Socket): Promise<string | undefined> => {
          const pids = opts.pids?.() ?? new Map<number, string>();
          if (socket.localPort === undefined || socket.remotePort === undefined) return undefined;
          const pid = await connectionOwner(socket.localPort, socket.remotePort, pids.keys());
          return pid === undefined ? undefined : pids.get(pid);
        }
      : undefined;
    const proxies = new Map<string, LinkProxy>();
    try {
      for (const a of nodes) {
        for (const b of nodes) {
          if (a === b) continue;
          const p = ports.get(b)!;
          proxies.set(linkKey(a, b), await LinkProxy.start({ source: a, target: b, targetAddress: `${HOST}:${p.peer}`, faults: table, ...(identify ? { identify } : {}) }));
        }
      }
    } catch (err) {
      await Promise.all([...proxies.values()].map((p) => p.close()));
      throw err;
    }
    return new ProxyNetwork(nodes, ports, proxies, table);
  }

  /** The proxy of link `a → b`. */
  proxy(a: string, b: string): LinkProxy {
    const p = this.proxies.get(linkKey(a, b));
    if (!p) throw new HarnessError('NETWORK', `no proxy for ${a} -> ${b}`);
    return p;
  }

  launch(id: string): NodeLaunch {
    const own = this.ports.get(id);
    if (!own) throw new HarnessError('NETWORK', `unknown node ${id}`);
    const clientOf = (x: string): string => `${HOST}:${this.ports.get(x)!.client}`;
    // Its own entry: a proxy into itself (any other node's), see the file comment.
    const intoSelf = this.nodes.find((x) => x !== id);
    const entries = this.nodes.map((x) => {
      const peer = x === id ? (intoSelf === undefined ? `${HOST}:${own.peer}` : this.proxy(intoSelf, id).address) : this.proxy(id, x).address;
      return `${x}=${peer}/${clientOf(x)}`;
    });
    return {
      listenClient: clientOf(id),
      listenPeer: `${HOST}:${own.peer}`,
      listenHttp: `${HOST}:${own.http}`,
      clientAddress: clientOf(id),
      httpAddress: `${HOST}:${own.http}`,
      initialCluster: entries.join(','),
      serverArgs: [],
      wrap: (command, args) => ({ command, args: [...args] }),
    };
  }

  memberAddress(id: string): { readonly peer: string; readonly client: string } {
    const own = this.ports.get(id);
    if (!own) throw new HarnessError('NETWORK', `unknown node ${id}`);
    // Any proxy into `id`: the proxy attributes each connection to the node that opened it.
    const via = this.nodes.find((x) => x !== id);
    return { peer: via === undefined ? `${HOST}:${own.peer}` : this.proxy(via, id).address, client: `${HOST}:${own.client}` };
  }

  partition(p: Partition, style: PartitionStyle): Promise<Applied> {
    const fault: LinkFault = style === 'cut' ? { type: 'cut' } : blackhole('both');
    this.table.healAll();
    this.table.set(lostLinks(this.nodes, p).map(([a, b]) => [a, b, fault] as const));
    return Promise.resolve({ ok: true, description: `${describePartition(p)} (${style})` });
  }

  slow(delayMs: number): Promise<Applied> {
    const fault = delayed(delayMs);
    this.table.healAll();
    this.table.set(this.nodes.flatMap((a) => this.nodes.filter((b) => b !== a).map((b) => [a, b, fault] as const)));
    return Promise.resolve({ ok: true, description: `every peer link +${delayMs} ms each way` });
  }

  heal(): Promise<void> {
    this.table.healAll();
    return Promise.resolve();
  }

  describe(): string {
    const f = this.table.faulty();
    if (f.length === 0) return 'healthy';
    return f.map((x) => `${x.from}->${x.to} ${describeFault(x.fault)}`).join('; ');
  }

  stats(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const p of this.proxies.values()) for (const [k, v] of Object.entries(p.stats())) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }
}

function linkKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}
