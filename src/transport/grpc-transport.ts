/**
 * The Raft peer transport over gRPC (proto/raft.proto): one outbound stream per peer with
 * batched, pipelined, in-order delivery and reconnection; snapshots in chunks; and a listener
 * that refuses traffic from other clusters, unknown nodes or addressed to another node.
 */
import { credentials as grpcCredentials, Server, ServerCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { invariant } from '../common/assert.js';
import { ConfigError } from '../common/errors.js';
import { isNodeId, type NodeId } from '../common/ids.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { systemRng } from '../common/rng.js';
import type { Message } from '../raft/types.js';
import { formatHostPort, parseHostPort } from './address.js';
import { checkClusterId, checkPeers, resolveLimits, type GrpcTransportLimits, type GrpcTransportOptions } from './grpc-transport-options.js';
import { InboundService, type InboundStats } from './inbound-service.js';
import { validateMessage } from './message-codec.js';
import { PeerLink, type PeerLinkContext, type PeerLinkStats } from './peer-link.js';
import { loadRaftPeerService } from './raft-peer-service.js';
import type { PeerAddress, Transport, TransportHandler } from './types.js';

/** Counters of a whole transport. */
export interface GrpcTransportStats {
  readonly inbound: InboundStats;
  readonly peers: readonly PeerLinkStats[];
}

/**
 * The gRPC implementation of the Transport port.
 *
 * Ordering: messages to one peer arrive in the order given to `send` (a subsequence of it when
 * some are lost to a broken stream or dropped by the queue bound; Raft tolerates loss).
 * 'snapshot' messages travel on their own InstallSnapshot call and may overtake or be overtaken
 * by stream messages. Handler callbacks are never made synchronously from `send`, never after
 * `close`, and an exception thrown by the handler is logged, not propagated.
 */
export class GrpcTransport implements Transport {
  private readonly clusterId: string;
  private readonly nodeId: NodeId;
  private readonly listen: string;
  private readonly limits: GrpcTransportLimits;
  private readonly log: Logger;
  private peers: Map<NodeId, string>;
  private readonly links = new Map<NodeId, PeerLink>();
  private handler: TransportHandler | undefined;
  private server: Server | undefined;
  private inbound: InboundService | undefined;
  private linkContext: PeerLinkContext | undefined;
  private boundAddress: string | undefined;
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';

  constructor(private readonly opts: GrpcTransportOptions) {
    this.clusterId = checkClusterId(opts.clusterId);
    if (!isNodeId(opts.nodeId)) throw new ConfigError('nodeId', 'expected a node id ([A-Za-z0-9_-]{1,64})');
    this.nodeId = opts.nodeId;
    parseHostPort(opts.listen, 'listen', true);
    this.listen = opts.listen;
    if (typeof opts.snapshotSource !== 'function') throw new ConfigError('snapshotSource', 'expected a function');
    this.limits = resolveLimits(opts.limits);
    this.peers = checkPeers(opts.peers, this.nodeId);
    this.log = (opts.logger ?? silentLogger).child({ component: 'transport', node: this.nodeId });
  }

  /** The address actually listened on (`host:port`, port resolved when `listen` asked for 0); set by `start`. */
  get address(): string {
    invariant(this.boundAddress, 'GrpcTransport.address read before start');
    return this.boundAddress;
  }

  /** Binds the listener and starts delivering to `handler`. Throws ConfigError when it cannot listen. */
  async start(handler: TransportHandler): Promise<void> {
    invariant(this.state === 'new', `GrpcTransport.start called when ${this.state}`);
    this.state = 'starting';
    this.handler = this.guard(handler);
    const service = loadRaftPeerService();
    const { limits } = this;
    const common: ChannelOptions = {
      'grpc.max_receive_message_length': limits.maxMessageBytes,
      'grpc.max_send_message_length': limits.maxMessageBytes,
      'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    };
    this.linkContext = {
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      limits,
      methods: service.client,
      channelCredentials: this.opts.credentials?.channel ?? grpcCredentials.createInsecure(),
      channelOptions: {
        ...common,
        'grpc.initial_reconnect_backoff_ms': limits.backoffInitialMs,
        'grpc.max_reconnect_backoff_ms': limits.backoffMaxMs,
        'grpc.enable_retries': 0,
        'grpc.use_local_subchannel_pool': 1,
      },
      snapshotSource: this.opts.snapshotSource,
      handler: this.handler,
      logger: this.log,
      rng: this.opts.rng ?? systemRng,
    };
    this.inbound = new InboundService({
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      limits,
      isPeer: (id) => this.peers.has(id),
      handler: this.handler,
      logger: this.log,
    });
    const server = new Server(common);
    server.addService(service.server.definition, this.inbound.implementation());
    this.server = server;
    const creds = this.opts.credentials?.server ?? ServerCredentials.createInsecure();
    let port: number;
    try {
      port = await new Promise<number>((resolve, reject) => server.bindAsync(this.listen, creds, (err, p) => (err ? reject(err) : resolve(p))));
    } catch (err) {
      this.state = 'closed';
      server.forceShutdown();
      throw new ConfigError('listen', `cannot listen on ${this.listen}: ${(err as Error).message}`);
    }
    if (this.state !== 'starting') {
      server.forceShutdown();
      return;
    }
    const { host } = parseHostPort(this.listen, 'listen', true);
    this.boundAddress = formatHostPort(host, port);
    this.state = 'running';
    this.log.info({ address: this.boundAddress, peers: [...this.peers.keys()] }, 'peer transport listening');
  }

  /**
   * Queues messages for delivery; never blocks and never throws for an unreachable peer.
   * A message to an unknown peer is dropped and reported with `onUnreachable` (and
   * `onSnapshotStatus(false)` for a snapshot). Does nothing after `close`.
   */
  send(messages: readonly Message[]): void {
    if (this.state === 'closed') return;
    invariant(this.state === 'running' && this.handler, 'GrpcTransport.send called before start resolved');
    const handler = this.handler;
    const byPeer = new Map<NodeId, Message[]>();
    for (const msg of messages) {
      try {
        validateMessage(msg);
      } catch (err) {
        this.log.error({ err, type: (msg as { type?: unknown }).type }, 'refusing to send a malformed message');
        continue;
      }
      if (msg.from !== this.nodeId || msg.to === this.nodeId) {
        this.log.error({ from: msg.from, to: msg.to, type: msg.type }, 'refusing to send a message not from this node to another');
        continue;
      }
      const link = this.link(msg.to);
      if (!link) {
        this.log.warn({ to: msg.to, type: msg.type }, 'message to an unknown peer dropped');
        if (msg.type === 'snapshot') handler.onSnapshotStatus(msg.to, false);
        handler.onUnreachable(msg.to);
        continue;
      }
      if (msg.type === 'snapshot') {
        link.sendSnapshot(msg);
        continue;
      }
      let list = byPeer.get(msg.to);
      if (!list) byPeer.set(msg.to, (list = []));
      list.push(msg);
    }
    for (const [to, list] of byPeer) this.link(to)?.enqueue(list);
  }

  /** Replaces the peer set: links to removed peers (or peers with a new address) are closed, and their inbound calls ended. */
  setPeers(peers: readonly PeerAddress[]): void {
    const next = checkPeers(peers, this.nodeId);
    if (this.state === 'closed') return;
    for (const [id, address] of this.peers) {
      if (next.get(id) === address) continue;
      this.links.get(id)?.close();
      this.links.delete(id);
      if (!next.has(id)) this.inbound?.dropPeer(id);
    }
    const added = [...next.keys()].filter((id) => !this.peers.has(id));
    const removed = [...this.peers.keys()].filter((id) => !next.has(id));
    this.peers = next;
    if (added.length > 0 || removed.length > 0) this.log.info({ added, removed }, 'peers changed');
  }

  /** Counters of inbound traffic and of every outbound link. */
  stats(): GrpcTransportStats {
    return {
      inbound: this.inbound?.stats() ?? { streamsAccepted: 0, batchesReceived: 0, messagesReceived: 0, snapshotsReceived: 0, snapshotChunksReceived: 0, rejectedIdentity: 0, rejectedMalformed: 0 },
      peers: [...this.links.values()].map((l) => l.stats()),
    };
  }

  /** Counters of the link to `peer`, if one was used. */
  peerStats(peer: NodeId): PeerLinkStats | undefined {
    return this.links.get(peer)?.stats();
  }

  /** Stops listening, ends inbound calls, closes every link. No handler callback runs afterwards. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.inbound?.close();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    this.log.info('peer transport closed');
  }

  private link(peer: NodeId): PeerLink | undefined {
    const existing = this.links.get(peer);
    if (existing) return existing;
    const address = this.peers.get(peer);
    if (address === undefined || !this.linkContext) return undefined;
    const link = new PeerLink(this.linkContext, peer, address);
    this.links.set(peer, link);
    return link;
  }

  /** Wraps the node's handler: deferred to a microtask, dropped after close, exceptions logged. */
  private guard(h: TransportHandler): TransportHandler {
    const run = (what: string, f: () => void): void => {
      queueMicrotask(() => {
        if (this.state === 'closed') return;
        try {
          f();
        } catch (err) {
          this.log.error({ err }, `transport handler ${what} threw`);
        }
      });
    };
    return {
      onMessage: (msg) => run('onMessage', () => h.onMessage(msg)),
      onUnreachable: (peer) => run('onUnreachable', () => h.onUnreachable(peer)),
      onSnapshotStatus: (peer, ok) => run('onSnapshotStatus', () => h.onSnapshotStatus(peer, ok)),
    };
  }
}
