/**
 * The RaftPeer gRPC service (proto/raft.proto), loaded once at run time with @grpc/proto-loader,
 * and the TypeScript shapes of its wire messages. The server-side definition decodes requests
 * tolerantly, so undecodable protobuf reaches the handler as a `malformed` value and is answered
 * with INVALID_ARGUMENT (grpc-js would otherwise answer INTERNAL).
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { raftProtoPath } from './proto-path.js';

/** A Batch as written by a sender (uint64 may be given as a number). */
export interface BatchOut {
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** A Batch as decoded by proto-loader (`longs: String`, `defaults: true`). */
export interface BatchIn {
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly seq: string;
  readonly payload: Uint8Array;
}

/** An Ack as written by the receiver. */
export interface AckOut {
  readonly seq: number;
}

/** An Ack as decoded by the sender. */
export interface AckIn {
  readonly seq: string;
}

/** A SnapshotChunk as written by a sender. */
export interface SnapshotChunkOut {
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly header: Uint8Array;
  readonly offset: number;
  readonly data: Uint8Array;
}

/** A SnapshotChunk as decoded by the receiver. */
export interface SnapshotChunkIn {
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly header: Uint8Array;
  readonly offset: string;
  readonly data: Uint8Array;
}

/** The (empty) reply to InstallSnapshot. */
export type SnapshotAckWire = Record<string, never>;

/** A request decoded by the tolerant server-side deserializer. */
export type Decoded<T> = { readonly type: 'ok'; readonly value: T } | { readonly type: 'malformed'; readonly reason: string };

/** Stream metadata keys carrying the sender's identity. */
export const HEADER_CLUSTER_ID = 'latch-cluster-id';
/** Stream metadata key: the sending node's id. */
export const HEADER_FROM = 'latch-from';
/** Stream metadata key: the addressed node's id. */
export const HEADER_TO = 'latch-to';

/** The client-side view of the service's two methods. */
export interface RaftPeerMethods {
  readonly stream: MethodDefinition<BatchOut, AckIn>;
  readonly installSnapshot: MethodDefinition<SnapshotChunkOut, SnapshotAckWire>;
}

/** The server-side definition (tolerant deserializers) to pass to `Server.addService`. */
export interface RaftPeerServerDefinition {
  readonly definition: ServiceDefinition;
  readonly stream: MethodDefinition<Decoded<BatchIn>, AckOut>;
  readonly installSnapshot: MethodDefinition<Decoded<SnapshotChunkIn>, SnapshotAckWire>;
}

interface Loaded {
  readonly client: RaftPeerMethods;
  readonly server: RaftPeerServerDefinition;
}

let loaded: Loaded | undefined;

function tolerant<T>(method: MethodDefinition<unknown, unknown>): MethodDefinition<Decoded<T>, unknown> {
  const inner = method.requestDeserialize;
  return {
    ...method,
    requestDeserialize: (bytes: Buffer): Decoded<T> => {
      try {
        return { type: 'ok', value: inner(bytes) as T };
      } catch (err) {
        return { type: 'malformed', reason: `undecodable ${method.originalName ?? method.path} request: ${(err as Error).message}` };
      }
    },
  } as MethodDefinition<Decoded<T>, unknown>;
}

/** Loads proto/raft.proto (once per process) and returns the RaftPeer method definitions. */
export function loadRaftPeerService(): Loaded {
  if (loaded) return loaded;
  const pkg = loadSync(raftProtoPath(), { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
  const svc = pkg['latch.raft.v1.RaftPeer'] as ServiceDefinition | undefined;
  const stream = svc?.['Stream'];
  const installSnapshot = svc?.['InstallSnapshot'];
  if (!svc || !stream || !installSnapshot) throw new Error('proto/raft.proto does not define latch.raft.v1.RaftPeer with Stream and InstallSnapshot');
  const serverStream = tolerant<BatchIn>(stream);
  const serverSnapshot = tolerant<SnapshotChunkIn>(installSnapshot);
  loaded = {
    client: { stream, installSnapshot },
    server: {
      definition: { Stream: serverStream, InstallSnapshot: serverSnapshot },
      stream: serverStream as MethodDefinition<Decoded<BatchIn>, AckOut>,
      installSnapshot: serverSnapshot as MethodDefinition<Decoded<SnapshotChunkIn>, SnapshotAckWire>,
    },
  };
  return loaded;
}
