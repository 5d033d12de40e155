/**
 * The transport port of a Raft node: send messages to peers, receive theirs.
 * Implemented by `GrpcTransport` (proto/raft.proto) and `MemoryTransport` (tests).
 */
import type { NodeId } from '../common/ids.js';
import type { Message, Snapshot } from '../raft/types.js';

/** Where a peer listens for Raft traffic. */
export interface PeerAddress {
  readonly id: NodeId;
  /** host:port of the peer RPC listener. */
  readonly address: string;
}

/** Callbacks from the transport into the node. */
export interface TransportHandler {
  /** A message for this node arrived (already checked for cluster and node id). Snapshot messages carry `data`. */
  onMessage(msg: Message): void;
  /** A message to `peer` could not be delivered (connection down); the core should probe again later. */
  onUnreachable(peer: NodeId): void;
  /** A snapshot send to `peer` finished (ok) or failed. */
  onSnapshotStatus(peer: NodeId, ok: boolean): void;
}

/** Supplies the latest stored snapshot's bytes when the core asks to send one. */
export type SnapshotSource = () => Promise<Snapshot | undefined>;

/** Sends Raft messages to peers. */
export interface Transport {
  /** Starts listening (if the implementation listens) and delivering to `handler`. */
  start(handler: TransportHandler): Promise<void>;
  /**
   * Queues messages for delivery; never blocks and never throws for an unreachable peer.
   * Messages to one peer are delivered in order on one stream (batched, pipelined).
   * A 'snapshot' message is sent with the bytes from the SnapshotSource, in chunks.
   */
  send(messages: readonly Message[]): void;
  /** Replaces the set of known peers (membership changes). */
  setPeers(peers: readonly PeerAddress[]): void;
  /** Stops listening and closes all connections. */
  close(): Promise<void>;
}
