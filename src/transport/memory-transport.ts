/**
 * The in-memory twin of GrpcTransport, for node-level tests: same port, same validation and
 * copying through the wire codec, delivery through a MemoryNetwork.
 */
import { invariant } from '../common/assert.js';
import { ConfigError } from '../common/errors.js';
import { isNodeId, type NodeId } from '../common/ids.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Message } from '../raft/types.js';
import { checkClusterId, checkPeers } from './grpc-transport-options.js';
import type { MemoryEndpoint, MemoryNetwork } from './memory-network.js';
import { decodeMessages, encodeMessages, type SnapshotMessage } from './message-codec.js';
import type { PeerAddress, SnapshotSource, Transport, TransportHandler } from './types.js';

/** Construction options of MemoryTransport. */
export interface MemoryTransportOptions {
  readonly nodeId: NodeId;
  /** Traffic between transports of different clusters is dropped. Default 'memory'. */
  readonly clusterId?: string;
  /** The other members; addresses are not used but must be well-formed host:port. */
  readonly peers: readonly PeerAddress[];
  /** Supplies snapshot bytes for 'snapshot' messages sent without `data`; default: none stored. */
  readonly snapshotSource?: SnapshotSource;
  readonly logger?: Logger;
}

/**
 * A Transport over a MemoryNetwork. Each message is copied through the wire codec (encode, decode
 * and validate), so the receiver never shares objects with the sender and anything GrpcTransport
 * would refuse is refused here too. Delivery is asynchronous and in order per link; a message
 * lost to a cut link or a stopped peer is reported with `onUnreachable` to the sender.
 */
export class MemoryTransport implements Transport, MemoryEndpoint {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  private peers: Map<NodeId, string>;
  private handler: TransportHandler | undefined;
  private state: 'new' | 'running' | 'closed' = 'new';
  private readonly log: Logger;
  private readonly snapshotSource: SnapshotSource;

  constructor(
    private readonly network: MemoryNetwork,
    opts: MemoryTransportOptions,
  ) {
    if (!isNodeId(opts.nodeId)) throw new ConfigError('nodeId', 'expected a node id ([A-Za-z0-9_-]{1,64})');
    this.nodeId = opts.nodeId;
    this.clusterId = checkClusterId(opts.clusterId ?? 'memory');
    this.peers = checkPeers(opts.peers, this.nodeId);
    this.snapshotSource = opts.snapshotSource ?? (() => Promise.resolve(undefined));
    this.log = (opts.logger ?? silentLogger).child({ component: 'memory-transport', node: this.nodeId });
  }

  /** Attaches to the network and starts delivering to `handler`. */
  async start(handler: TransportHandler): Promise<void> {
    invariant(this.state === 'new', `MemoryTransport.start called when ${this.state}`);
    this.network.attach(this);
    this.handler = handler;
    this.state = 'running';
    await Promise.resolve();
  }

  /** Queues messages on the network; never throws for an unreachable peer. */
  send(messages: readonly Message[]): void {
    if (this.state === 'closed') return;
    invariant(this.state === 'running', 'MemoryTransport.send called before start');
    for (const msg of messages) {
      let copy: Message;
      try {
        const [decoded] = decodeMessages(encodeMessages([msg]));
        invariant(decoded, 'decodeMessages returned nothing');
        copy = decoded;
      } catch (err) {
        this.log.error({ err }, 'refusing to send a malformed message');
        continue;
      }
      if (copy.from !== this.nodeId || copy.to === this.nodeId) {
        this.log.error({ from: copy.from, to: copy.to }, 'refusing to send a message not from this node to another');
        continue;
      }
      if (!this.peers.has(copy.to)) {
        if (copy.type === 'snapshot') this.snapshotStatus(copy.to, false);
        this.unreachable(copy.to);
        continue;
      }
      if (copy.type === 'snapshot') this.sendSnapshot(copy);
      else this.network.post(copy);
    }
  }

  /** Replaces the peer set. */
  setPeers(peers: readonly PeerAddress[]): void {
    this.peers = checkPeers(peers, this.nodeId);
  }

  /** Detaches from the network; nothing is delivered to or reported from this transport afterwards. */
  close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.network.detach(this);
    }
    return Promise.resolve();
  }

  /** @internal MemoryEndpoint: accepts traffic from known peers while running. */
  accepts(peer: NodeId): boolean {
    return this.state === 'running' && this.peers.has(peer);
  }

  /** @internal MemoryEndpoint: delivers a message to the handler. */
  receive(msg: Message): void {
    this.call('onMessage', (h) => h.onMessage(msg));
  }

  /** @internal MemoryEndpoint: reports a lost message. */
  unreachable(peer: NodeId): void {
    queueMicrotask(() => this.call('onUnreachable', (h) => h.onUnreachable(peer)));
  }

  /** @internal MemoryEndpoint: reports a snapshot outcome. */
  snapshotStatus(peer: NodeId, ok: boolean): void {
    queueMicrotask(() => this.call('onSnapshotStatus', (h) => h.onSnapshotStatus(peer, ok)));
  }

  private call(what: string, f: (h: TransportHandler) => void): void {
    if (this.state !== 'running' || !this.handler) return;
    try {
      f(this.handler);
    } catch (err) {
      this.log.error({ err }, `transport handler ${what} threw`);
    }
  }

  private sendSnapshot(msg: SnapshotMessage): void {
    if (msg.data) {
      this.network.post(msg, true);
      return;
    }
    const release = this.network.hold();
    this.snapshotSource().then(
      (stored) => {
        if (!stored || stored.meta.index < msg.meta.index) {
          this.log.warn({ index: msg.meta.index, stored: stored?.meta.index }, 'no suitable snapshot to send');
          this.snapshotStatus(msg.to, false);
          this.unreachable(msg.to);
        } else {
          this.network.post({ ...msg, meta: stored.meta, data: new Uint8Array(stored.data) }, true);
        }
        release();
      },
      (err: unknown) => {
        this.log.warn({ err }, 'snapshot source failed');
        this.snapshotStatus(msg.to, false);
        this.unreachable(msg.to);
        release();
      },
    );
  }
}
