/**
 * An in-process network for MemoryTransports: asynchronous, per-link FIFO delivery, with links
 * that can be cut and healed (one way or both) for node-level tests.
 */
import type { NodeId } from '../common/ids.js';
import type { Message } from '../raft/types.js';

/** What the network needs from an attached endpoint (implemented by MemoryTransport). */
export interface MemoryEndpoint {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** True when this endpoint accepts traffic from `peer` (a known peer, and running). */
  accepts(peer: NodeId): boolean;
  /** Delivers one message (already copied through the codec). */
  receive(msg: Message): void;
  /** Reports that a message to `peer` was lost. */
  unreachable(peer: NodeId): void;
  /** Reports a snapshot transfer's outcome. */
  snapshotStatus(peer: NodeId, ok: boolean): void;
}

/** Counters of a MemoryNetwork. */
export interface MemoryNetworkStats {
  readonly delivered: number;
  /** Lost to a cut link, a missing or stopped endpoint, or an endpoint that refused the sender. */
  readonly dropped: number;
}

interface InFlight {
  readonly msg: Message;
  /** Snapshot transfers report their outcome to the sender. */
  readonly snapshot: boolean;
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}

/**
 * The hub connecting MemoryTransports. Messages are delivered on a later macrotask
 * (setImmediate), in the order they were sent on each link. A message finds the link state at
 * delivery time: cutting a link also loses what is already in flight on it, as a real
 * partition would.
 */
export class MemoryNetwork {
  /** `defer`: how delivery is put on a later turn (default setImmediate; a simulator passes its own). */
  constructor(private readonly opts: { readonly defer?: (fn: () => void) => void } = {}) {}

  private readonly endpoints = new Map<NodeId, MemoryEndpoint>();
  private readonly cutLinks = new Set<string>();
  private queue: InFlight[] = [];
  private scheduled = false;
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private counters = { delivered: 0, dropped: 0 };

  /** Attaches an endpoint under its node id; throws if the id is taken. */
  attach(endpoint: MemoryEndpoint): void {
    if (this.endpoints.has(endpoint.nodeId)) throw new Error(`MemoryNetwork: node ${endpoint.nodeId} is already attached`);
    this.endpoints.set(endpoint.nodeId, endpoint);
  }

  /** Detaches the endpoint (traffic to it is dropped from now on). */
  detach(endpoint: MemoryEndpoint): void {
    if (this.endpoints.get(endpoint.nodeId) === endpoint) this.endpoints.delete(endpoint.nodeId);
  }

  /** Cuts the link a→b, and b→a unless `oneWay`. */
  cut(a: NodeId, b: NodeId, oneWay = false): void {
    this.cutLinks.add(linkKey(a, b));
    if (!oneWay) this.cutLinks.add(linkKey(b, a));
  }

  /** Restores the link a→b, and b→a unless `oneWay`. */
  heal(a: NodeId, b: NodeId, oneWay = false): void {
    this.cutLinks.delete(linkKey(a, b));
    if (!oneWay) this.cutLinks.delete(linkKey(b, a));
  }

  /** Cuts every link between `node` and any other of `others` (default: every attached node). */
  isolate(node: NodeId, others: readonly NodeId[] = [...this.endpoints.keys()]): void {
    for (const o of others) if (o !== node) this.cut(node, o);
  }

  /** Splits the nodes into groups that cannot reach each other. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    groups.forEach((g, i) => {
      for (const other of groups.slice(i + 1)) for (const a of g) for (const b of other) this.cut(a, b);
    });
  }

  /** Restores every link. */
  healAll(): void {
    this.cutLinks.clear();
  }

  /** True when messages from `from` can currently reach `to`'s link (ignores whether `to` runs). */
  isLinkUp(from: NodeId, to: NodeId): boolean {
    return !this.cutLinks.has(linkKey(from, to));
  }

  /** Delivered and dropped message counts so far. */
  stats(): MemoryNetworkStats {
    return { ...this.counters };
  }

  /** Resolves once nothing is in flight (all queued and pending snapshot sends delivered or dropped). */
  settled(): Promise<void> {
    if (this.queue.length === 0 && this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Queues messages (already copied) for delivery. */
  post(msg: Message, snapshot = false): void {
    this.queue.push({ msg, snapshot });
    this.schedule();
  }

  /** Marks an asynchronous preparation (a snapshot fetch) as in progress, for `settled`. */
  hold(): () => void {
    this.pending++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.pending--;
      this.maybeIdle();
    };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.opts.defer) this.opts.defer(() => this.drain());
    else setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const item of batch) this.deliver(item);
    if (this.queue.length > 0) this.schedule();
    else this.maybeIdle();
  }

  private deliver({ msg, snapshot }: InFlight): void {
    const sender = this.endpoints.get(msg.from);
    const target = this.endpoints.get(msg.to);
    const ok = target !== undefined && this.isLinkUp(msg.from, msg.to) && sender !== undefined && sender.clusterId === target.clusterId && target.accepts(msg.from);
    if (!ok) {
      this.counters.dropped++;
      if (snapshot) sender?.snapshotStatus(msg.to, false);
      sender?.unreachable(msg.to);
      return;
    }
    this.counters.delivered++;
    target.receive(msg);
    if (snapshot) sender.snapshotStatus(msg.to, true);
  }

  private maybeIdle(): void {
    if (this.queue.length > 0 || this.pending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
