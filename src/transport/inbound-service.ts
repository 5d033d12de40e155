/**
 * The receiving side of the RaftPeer service: checks every stream, Batch and SnapshotChunk for
 * cluster id, sender and addressee, validates payloads, and hands messages to the node.
 */
import { Metadata, type sendUnaryData, type ServerDuplexStream, type ServerReadableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { decode } from '../common/codec.js';
import { LatchError } from '../common/errors.js';
import { isIndex, isNodeId, type NodeId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { Message } from '../raft/types.js';
import type { GrpcTransportLimits } from './grpc-transport-options.js';
import { decodeMessages, validateMessage, type SnapshotMessage } from './message-codec.js';
import {
  HEADER_CLUSTER_ID,
  HEADER_FROM,
  HEADER_TO,
  type AckOut,
  type BatchIn,
  type Decoded,
  type SnapshotAckWire,
  type SnapshotChunkIn,
} from './raft-peer-service.js';
import type { TransportHandler } from './types.js';

/** A Batch is acknowledged at most this long after it arrived (acks only move the sender's window). */
const ACK_DELAY_MS = 2;
/** ...or at once when this many are unacknowledged (below the sender's default window of 64). */
const ACK_EVERY = 16;

/** What the inbound service needs from its transport. */
export interface InboundContext {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly limits: GrpcTransportLimits;
  /** True when `id` is currently a known peer. */
  isPeer(id: NodeId): boolean;
  /** Callbacks into the node (deferred and guarded by the transport). */
  readonly handler: TransportHandler;
  readonly logger: Logger;
}

/** Counters of inbound traffic. */
export interface InboundStats {
  readonly streamsAccepted: number;
  readonly batchesReceived: number;
  readonly messagesReceived: number;
  readonly snapshotsReceived: number;
  readonly snapshotChunksReceived: number;
  /** Streams or calls refused for identity (PERMISSION_DENIED). */
  readonly rejectedIdentity: number;
  /** Streams or calls refused as malformed (INVALID_ARGUMENT). */
  readonly rejectedMalformed: number;
}

interface Identity {
  readonly clusterId: unknown;
  readonly from: unknown;
  readonly to: unknown;
}

interface Tracked {
  /** The sending peer (set once the call's identity is accepted). */
  from: NodeId;
  /** Ends the call with `err` (idempotent; no-op once the call is over). */
  abort(err: LatchError): void;
}

function metadataIdentity(md: Metadata): Identity {
  const one = (key: string): unknown => {
    const values = md.get(key);
    return values.length === 1 ? values[0] : undefined;
  };
  return { clusterId: one(HEADER_CLUSTER_ID), from: one(HEADER_FROM), to: one(HEADER_TO) };
}

/** Serves Stream and InstallSnapshot for one transport. */
export class InboundService {
  private readonly calls = new Set<Tracked>();
  private closed = false;
  private readonly counters = {
    streamsAccepted: 0,
    batchesReceived: 0,
    messagesReceived: 0,
    snapshotsReceived: 0,
    snapshotChunksReceived: 0,
    rejectedIdentity: 0,
    rejectedMalformed: 0,
  };

  constructor(private readonly ctx: InboundContext) {}

  /** The handlers to register with `Server.addService` (method names as in the proto). */
  implementation(): UntypedServiceImplementation {
    return {
      Stream: (call: ServerDuplexStream<Decoded<BatchIn>, AckOut>) => this.onStream(call),
      InstallSnapshot: (call: ServerReadableStream<Decoded<SnapshotChunkIn>, SnapshotAckWire>, cb: sendUnaryData<SnapshotAckWire>) => this.onSnapshot(call, cb),
    };
  }

  /** Counters of inbound traffic. */
  stats(): InboundStats {
    return { ...this.counters };
  }

  /** Ends every call from `peer` (it was removed from the membership). */
  dropPeer(peer: NodeId): void {
    for (const t of [...this.calls]) if (t.from === peer) t.abort(new LatchError('CLUSTER_MISMATCH', `node ${peer} was removed from the peers of ${this.ctx.nodeId}`));
  }

  /** Ends every call and refuses new ones (the transport is closing). */
  close(): void {
    this.closed = true;
    for (const t of [...this.calls]) t.abort(new LatchError('SHUTTING_DOWN', `node ${this.ctx.nodeId} is shutting down`));
  }

  /**
   * Checks who is talking: a malformed identity is INVALID_ARGUMENT; another cluster, another
   * addressee or a sender that is not a known peer is CLUSTER_MISMATCH (PERMISSION_DENIED).
   */
  private checkIdentity(id: Identity, where: string): LatchError | undefined {
    const { clusterId, from, to } = id;
    if (typeof clusterId !== 'string' || clusterId.length === 0) return new LatchError('INVALID_ARGUMENT', `${where}: missing cluster id`);
    if (!isNodeId(from)) return new LatchError('INVALID_ARGUMENT', `${where}: missing or malformed sender node id`);
    if (!isNodeId(to)) return new LatchError('INVALID_ARGUMENT', `${where}: missing or malformed addressee node id`);
    if (clusterId !== this.ctx.clusterId) {
      return new LatchError('CLUSTER_MISMATCH', `${where}: node ${from} belongs to cluster "${clusterId}" but this is cluster "${this.ctx.clusterId}"`);
    }
    if (to !== this.ctx.nodeId) return new LatchError('CLUSTER_MISMATCH', `${where}: addressed to node ${to} but this is node ${this.ctx.nodeId}`);
    if (!this.ctx.isPeer(from)) return new LatchError('CLUSTER_MISMATCH', `${where}: node ${from} is not a known peer of ${this.ctx.nodeId} in cluster "${this.ctx.clusterId}"`);
    return undefined;
  }

  private noteRejection(err: LatchError, fields: Record<string, unknown>): void {
    if (err.code === 'CLUSTER_MISMATCH') this.counters.rejectedIdentity++;
    else if (err.code === 'INVALID_ARGUMENT') this.counters.rejectedMalformed++;
    if (err.code !== 'SHUTTING_DOWN') this.ctx.logger.warn({ ...fields, code: err.code, reason: err.message }, 'rejected peer traffic');
  }

  private deliver(msg: Message): void {
    this.ctx.handler.onMessage(msg);
  }

  private onStream(call: ServerDuplexStream<Decoded<BatchIn>, AckOut>): void {
    let done = false;
    const tracked: Tracked = {
      from: '',
      abort: (err) => {
        if (done) return;
        done = true;
        this.calls.delete(tracked);
        call.emit('error', { code: err.grpcCode, details: err.message });
      },
    };
    const reject = (err: LatchError, fields: Record<string, unknown>): void => {
      if (done) return;
      this.noteRejection(err, { ...fields, peer: call.getPeer() });
      tracked.abort(err);
    };
    let expectedSeq = 1;
    // Acks are cumulative and coalesced: the latest accepted seq goes back after ACK_DELAY_MS, or
    // at once when ACK_EVERY batches are unacknowledged (well inside the sender's window).
    let acked = 0;
    let ackTimer: NodeJS.Timeout | undefined;
    const sendAck = (): void => {
      if (ackTimer) clearTimeout(ackTimer);
      ackTimer = undefined;
      if (done || acked === expectedSeq - 1) return;
      acked = expectedSeq - 1;
      call.write({ seq: acked });
    };
    const finish = (): void => {
      done = true;
      if (ackTimer) clearTimeout(ackTimer);
      ackTimer = undefined;
      this.calls.delete(tracked);
    };
    call.on('error', finish);
    call.on('cancelled', finish);
    if (this.closed) {
      reject(new LatchError('SHUTTING_DOWN', `node ${this.ctx.nodeId} is shutting down`), {});
      return;
    }
    const idErr = this.checkIdentity(metadataIdentity(call.metadata), 'stream');
    if (idErr) {
      reject(idErr, { rpc: 'Stream' });
      return;
    }
    const from = call.metadata.get(HEADER_FROM)[0] as NodeId;
    tracked.from = from;
    this.calls.add(tracked);
    this.counters.streamsAccepted++;

    call.on('data', (d: Decoded<BatchIn>) => {
      if (done) return;
      const result = this.acceptBatch(d, from, expectedSeq);
      if (result instanceof LatchError) {
        reject(result, { rpc: 'Stream', from, seq: expectedSeq });
        return;
      }
      expectedSeq++;
      this.counters.batchesReceived++;
      this.counters.messagesReceived += result.length;
      for (const msg of result) this.deliver(msg);
      if (expectedSeq - 1 - acked >= ACK_EVERY) sendAck();
      else ackTimer ??= setTimeout(sendAck, ACK_DELAY_MS);
    });
    call.on('end', () => {
      if (done) return;
      sendAck();
      finish();
      call.end();
    });
    // Response headers tell the sender the stream's identity was accepted.
    call.sendMetadata(new Metadata());
  }

  /** Validates one Batch on a stream from `from`; returns its messages or the error to end the stream with. */
  private acceptBatch(d: Decoded<BatchIn>, from: NodeId, expectedSeq: number): Message[] | LatchError {
    if (d.type === 'malformed') return new LatchError('INVALID_ARGUMENT', d.reason);
    const b = d.value;
    const idErr = this.checkIdentity(b, 'batch');
    if (idErr) return idErr;
    if (b.from !== from) return new LatchError('CLUSTER_MISMATCH', `batch: from ${String(b.from)} on a stream opened by ${from}`);
    if (String(b.seq) !== String(expectedSeq)) return new LatchError('INVALID_ARGUMENT', `batch: seq ${String(b.seq)}, expected ${expectedSeq}`);
    if (!(b.payload instanceof Uint8Array)) return new LatchError('INVALID_ARGUMENT', 'batch: payload is not bytes');
    let messages: Message[];
    try {
      messages = decodeMessages(b.payload);
    } catch (err) {
      return err instanceof LatchError ? err : new LatchError('INVALID_ARGUMENT', `batch: ${(err as Error).message}`);
    }
    for (const [i, m] of messages.entries()) {
      if (m.from !== b.from || m.to !== b.to) return new LatchError('CLUSTER_MISMATCH', `batch: message[${i}] is from ${m.from} to ${m.to} inside a batch from ${b.from} to ${b.to}`);
      if (m.type === 'snapshot') return new LatchError('INVALID_ARGUMENT', `batch: message[${i}] is a snapshot; snapshots travel over InstallSnapshot`);
    }
    return messages;
  }

  private onSnapshot(call: ServerReadableStream<Decoded<SnapshotChunkIn>, SnapshotAckWire>, callback: sendUnaryData<SnapshotAckWire>): void {
    let done = false;
    let first: { from: NodeId; message: SnapshotMessage; size: number } | undefined;
    const chunks: Uint8Array[] = [];
    let received = 0;
    const tracked: Tracked = {
      from: '',
      abort: (err) => {
        if (done) return;
        done = true;
        chunks.length = 0;
        this.calls.delete(tracked);
        callback({ code: err.grpcCode, details: err.message });
      },
    };
    const reject = (err: LatchError, fields: Record<string, unknown>): void => {
      if (done) return;
      this.noteRejection(err, { ...fields, rpc: 'InstallSnapshot', peer: call.getPeer() });
      tracked.abort(err);
    };
    call.on('cancelled', () => {
      done = true;
      chunks.length = 0;
      this.calls.delete(tracked);
    });
    call.on('error', () => {
      done = true;
      chunks.length = 0;
      this.calls.delete(tracked);
    });
    if (this.closed) {
      reject(new LatchError('SHUTTING_DOWN', `node ${this.ctx.nodeId} is shutting down`), {});
      return;
    }
    const idErr = this.checkIdentity(metadataIdentity(call.metadata), 'snapshot');
    if (idErr) {
      reject(idErr, {});
      return;
    }
    const from = call.metadata.get(HEADER_FROM)[0] as NodeId;
    tracked.from = from;
    this.calls.add(tracked);

    call.on('data', (d: Decoded<SnapshotChunkIn>) => {
      if (done) return;
      if (d.type === 'malformed') return reject(new LatchError('INVALID_ARGUMENT', d.reason), { from });
      const c = d.value;
      const err = this.checkIdentity(c, 'snapshot chunk') ?? (c.from !== from ? new LatchError('CLUSTER_MISMATCH', `snapshot chunk: from ${String(c.from)} on a call opened by ${from}`) : undefined);
      if (err) return reject(err, { from });
      if (!(c.data instanceof Uint8Array) || !(c.header instanceof Uint8Array)) return reject(new LatchError('INVALID_ARGUMENT', 'snapshot chunk: data or header is not bytes'), { from });
      if (String(c.offset) !== String(received)) return reject(new LatchError('INVALID_ARGUMENT', `snapshot chunk: offset ${String(c.offset)}, expected ${received}`), { from });
      if (!first) {
        const parsed = this.parseSnapshotHeader(c.header, from);
        if (parsed instanceof LatchError) return reject(parsed, { from });
        first = { from, ...parsed };
      } else if (c.header.length > 0) {
        return reject(new LatchError('INVALID_ARGUMENT', 'snapshot chunk: header repeated after the first chunk'), { from });
      }
      if (received + c.data.length > first.size) {
        return reject(new LatchError('INVALID_ARGUMENT', `snapshot chunk: ${received + c.data.length} bytes exceed the announced ${first.size}`), { from });
      }
      received += c.data.length;
      if (c.data.length > 0) chunks.push(c.data);
      this.counters.snapshotChunksReceived++;
    });
    call.on('end', () => {
      if (done) return;
      if (!first) return reject(new LatchError('INVALID_ARGUMENT', 'snapshot: no chunks'), { from });
      if (received !== first.size) return reject(new LatchError('INVALID_ARGUMENT', `snapshot: truncated at ${received} of ${first.size} bytes`), { from });
      const buf = Buffer.concat(chunks, received);
      const data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      done = true;
      chunks.length = 0;
      this.calls.delete(tracked);
      this.counters.snapshotsReceived++;
      this.ctx.logger.info({ from, index: first.message.meta.index, size: received }, 'snapshot received');
      this.deliver({ ...first.message, data });
      callback(null, {});
    });
  }

  /** Decodes the first chunk's header: the 'snapshot' message (without data) and its total size. */
  private parseSnapshotHeader(header: Uint8Array, from: NodeId): { message: SnapshotMessage; size: number } | LatchError {
    let raw: unknown;
    try {
      raw = decode<unknown>(header);
    } catch (err) {
      return new LatchError('INVALID_ARGUMENT', `snapshot header: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null) return new LatchError('INVALID_ARGUMENT', 'snapshot header is not an object');
    const { message, size } = raw as { message?: unknown; size?: unknown };
    let msg: Message;
    try {
      msg = validateMessage(message, 'snapshot header message');
    } catch (err) {
      return err instanceof LatchError ? err : new LatchError('INVALID_ARGUMENT', String(err));
    }
    if (msg.type !== 'snapshot' || msg.data !== undefined) return new LatchError('INVALID_ARGUMENT', 'snapshot header: not a snapshot message without data');
    if (msg.from !== from || msg.to !== this.ctx.nodeId) return new LatchError('CLUSTER_MISMATCH', `snapshot header: message from ${msg.from} to ${msg.to} on a call from ${from} to ${this.ctx.nodeId}`);
    if (!isIndex(size) || size > this.ctx.limits.maxSnapshotBytes) {
      return new LatchError('INVALID_ARGUMENT', `snapshot header: size ${String(size)} is not an integer in [0, ${this.ctx.limits.maxSnapshotBytes}]`);
    }
    return { message: msg, size };
  }
}
