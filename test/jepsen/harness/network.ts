/**
 * The network the cluster runs on, as the nemeses see it: where each node listens and what it is
 * told about its peers, and the faults that can be applied to it. Two implementations: TCP proxies
 * on 127.0.0.1 (`ProxyNetwork`) and network namespaces (`NetnsNetwork`, root only).
 */
import type { Partition } from './partitions.js';

/** How one node is launched on this network. */
export interface NodeLaunch {
  readonly listenClient: string;
  readonly listenPeer: string;
  readonly listenHttp: string;
  /** The client endpoint, as clients and the harness reach it. */
  readonly clientAddress: string;
  /** The HTTP endpoint, as the harness reaches it. */
  readonly httpAddress: string;
  /** The `--initial-cluster` value this node is given. */
  readonly initialCluster: string;
  /** Extra server flags this network needs (e.g. `--insecure` off loopback). */
  readonly serverArgs: readonly string[];
  /** Wraps the server command so it runs inside the node's network. */
  wrap(command: string, args: readonly string[]): { readonly command: string; readonly args: string[] };
}

/** The outcome of asking a network for a fault. */
export type Applied = { readonly ok: true; readonly description: string } | { readonly ok: false; readonly reason: string };

/** How a partition loses traffic: resets (`cut`) or silence (`drop`, like lost packets). */
export type PartitionStyle = 'cut' | 'drop';

/** A network under the harness's control. */
export interface Network {
  readonly kind: 'proxy' | 'netns';
  /** The node ids. */
  readonly nodes: readonly string[];
  /** How to launch node `id`. */
  launch(id: string): NodeLaunch;
  /**
   * The addresses node `id` is announced with when it is added to the cluster (Admin.MemberAdd):
   * one peer address that every member then dials, so on the proxy network it names a proxy into
   * `id` (connections through it still get the faults of their real link).
   */
  memberAddress(id: string): { readonly peer: string; readonly client: string };
  /** Applies a partition (replacing any current fault); `ok: false` when this network cannot. */
  partition(p: Partition, style: PartitionStyle): Promise<Applied>;
  /** Delays every peer link by `delayMs` in both directions; `ok: false` when unsupported. */
  slow(delayMs: number): Promise<Applied>;
  /** Removes every fault. */
  heal(): Promise<void>;
  /** The current faults in one line (`healthy` when none). */
  describe(): string;
  /** Counters for the report (connections, bytes dropped…). */
  stats(): Record<string, number>;
  /** Tears the network down (proxies closed, namespaces deleted). Idempotent. */
  close(): Promise<void>;
}
