/**
 * Options and limits of GrpcTransport, with their defaults and validation.
 */
import type { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../common/errors.js';
import { isNodeId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { Rng } from '../common/rng.js';
import { parseHostPort } from './address.js';
import type { PeerAddress, SnapshotSource } from './types.js';

const MiB = 1024 * 1024;

/** Tunable bounds of the transport. All sizes in bytes, all times in ms. */
export interface GrpcTransportLimits {
  /** Per-peer send queue bound in messages; beyond it the oldest are dropped. */
  readonly maxQueueMessages: number;
  /** Per-peer send queue bound in (estimated) bytes; beyond it the oldest are dropped. */
  readonly maxQueueBytes: number;
  /** A Batch is closed once its (estimated) size reaches this; one larger message travels alone. */
  readonly maxBatchBytes: number;
  /** Batches sent on one stream and not yet acknowledged (the pipelining window). */
  readonly maxInflightBatches: number;
  /** gRPC max send/receive message length. */
  readonly maxMessageBytes: number;
  /** Size of one InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Largest snapshot a receiver reassembles. */
  readonly maxSnapshotBytes: number;
  /** Deadline of one whole InstallSnapshot call. */
  readonly snapshotTimeoutMs: number;
  /** A stream not accepted (response headers) within this is abandoned and retried. */
  readonly connectTimeoutMs: number;
  /** First reconnect delay (before jitter). */
  readonly backoffInitialMs: number;
  /** Reconnect delay cap (before jitter). */
  readonly backoffMaxMs: number;
  /** HTTP/2 keepalive ping interval on open connections. */
  readonly keepaliveTimeMs: number;
  /** A keepalive ping unanswered within this closes the connection. */
  readonly keepaliveTimeoutMs: number;
}

/** Defaults of GrpcTransportLimits. */
export const DEFAULT_GRPC_TRANSPORT_LIMITS: GrpcTransportLimits = {
  maxQueueMessages: 10_000,
  maxQueueBytes: 64 * MiB,
  maxBatchBytes: 4 * MiB,
  maxInflightBatches: 64,
  maxMessageBytes: 64 * MiB,
  snapshotChunkBytes: 1 * MiB,
  maxSnapshotBytes: 1024 * MiB,
  snapshotTimeoutMs: 300_000,
  connectTimeoutMs: 5_000,
  backoffInitialMs: 50,
  backoffMaxMs: 1_000,
  keepaliveTimeMs: 10_000,
  keepaliveTimeoutMs: 5_000,
};

/** TLS seam: credentials for the listener and for outbound channels (default: insecure). */
export interface GrpcTransportCredentials {
  readonly server?: ServerCredentials;
  readonly channel?: ChannelCredentials;
}

/** Construction options of GrpcTransport. */
export interface GrpcTransportOptions {
  /** Every node of a cluster shares it; traffic from another cluster is refused. */
  readonly clusterId: string;
  /** This node's id. */
  readonly nodeId: NodeId;
  /** host:port to listen on for peer traffic (port 0 picks a free port; see `address`). */
  readonly listen: string;
  /** The other members (an entry for this node itself is ignored). */
  readonly peers: readonly PeerAddress[];
  /** Supplies snapshot bytes for 'snapshot' messages sent without `data`. */
  readonly snapshotSource: SnapshotSource;
  /** Parent logger; the transport logs through `child({ component: 'transport' })`. */
  readonly logger?: Logger;
  /** TLS seam; both sides default to insecure (meant for loopback only). */
  readonly credentials?: GrpcTransportCredentials;
  /** Overrides of DEFAULT_GRPC_TRANSPORT_LIMITS. */
  readonly limits?: Partial<GrpcTransportLimits>;
  /** Randomness for backoff jitter (default: the process's). */
  readonly rng?: Rng;
}

/** Largest accepted cluster id. */
export const MAX_CLUSTER_ID_LENGTH = 128;

/** Fills defaults and checks every limit; throws ConfigError naming the bad field. */
export function resolveLimits(partial: Partial<GrpcTransportLimits> | undefined): GrpcTransportLimits {
  const limits: GrpcTransportLimits = { ...DEFAULT_GRPC_TRANSPORT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || (value as number) <= 0) throw new ConfigError(`limits.${key}`, `expected a positive integer, got ${String(value)}`);
  }
  const headroom = 64 * 1024;
  if (limits.maxBatchBytes + headroom > limits.maxMessageBytes) throw new ConfigError('limits.maxBatchBytes', 'must be at least 64 KiB below maxMessageBytes');
  if (limits.snapshotChunkBytes + headroom > limits.maxMessageBytes) throw new ConfigError('limits.snapshotChunkBytes', 'must be at least 64 KiB below maxMessageBytes');
  if (limits.backoffMaxMs < limits.backoffInitialMs) throw new ConfigError('limits.backoffMaxMs', 'must be >= backoffInitialMs');
  return limits;
}

/** Checks a cluster id: 1–128 printable characters. */
export function checkClusterId(clusterId: unknown): string {
  if (typeof clusterId !== 'string' || clusterId.length === 0 || clusterId.length > MAX_CLUSTER_ID_LENGTH || !/^[\x21-\x7e]+$/.test(clusterId)) {
    throw new ConfigError('clusterId', `expected 1-${MAX_CLUSTER_ID_LENGTH} printable ASCII characters`);
  }
  return clusterId;
}

/** Checks a peer list (ids, addresses, no duplicates) and returns it as a map without `self`. */
export function checkPeers(peers: readonly PeerAddress[], self: NodeId): Map<NodeId, string> {
  if (!Array.isArray(peers)) throw new ConfigError('peers', 'expected an array of { id, address }');
  const out = new Map<NodeId, string>();
  const seen = new Set<NodeId>();
  peers.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || !isNodeId(p.id)) throw new ConfigError(`peers[${i}].id`, 'expected a node id ([A-Za-z0-9_-]{1,64})');
    parseHostPort(p.address, `peers[${i}].address`);
    if (seen.has(p.id)) throw new ConfigError(`peers[${i}].id`, `duplicate peer id ${p.id}`);
    seen.add(p.id);
    if (p.id !== self) out.set(p.id, p.address);
  });
  return out;
}
