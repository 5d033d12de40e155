/** The public API of the peer transport. */
export type { PeerAddress, SnapshotSource, Transport, TransportHandler } from './types.js';
export { GrpcTransport, type GrpcTransportStats } from './grpc-transport.js';
export {
  DEFAULT_GRPC_TRANSPORT_LIMITS,
  type GrpcTransportCredentials,
  type GrpcTransportLimits,
  type GrpcTransportOptions,
} from './grpc-transport-options.js';
export type { PeerLinkState, PeerLinkStats } from './peer-link.js';
export type { InboundStats } from './inbound-service.js';
export { MemoryNetwork, type MemoryNetworkStats } from './memory-network.js';
export { MemoryTransport, type MemoryTransportOptions } from './memory-transport.js';
export { decodeMessages, encodeMessages, validateMessage, validateEntry } from './message-codec.js';
export { raftProtoPath } from './proto-path.js';
