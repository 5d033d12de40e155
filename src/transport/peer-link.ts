/**
 * The outbound side of one peer: a bounded send queue, one long-lived `Stream` call carrying
 * pipelined Batches, reconnection with backoff, and InstallSnapshot transfers.
 */
import { Client, Metadata, status as GrpcCode, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { encode } from '../common/codec.js';
import type { NodeId } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { Rng } from '../common/rng.js';
import type { Message, Snapshot } from '../raft/types.js';
import { Backoff } from './backoff.js';
import { Fifo } from './fifo.js';
import type { GrpcTransportLimits } from './grpc-transport-options.js';
import { encodeMessages, estimateMessageSize, type SnapshotMessage } from './message-codec.js';
import { HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO, type AckIn, type BatchOut, type RaftPeerMethods, type SnapshotChunkOut } from './raft-peer-service.js';
import type { SnapshotSource, TransportHandler } from './types.js';

/** What a PeerLink needs from its transport. */
export interface PeerLinkContext {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly limits: GrpcTransportLimits;
  readonly methods: RaftPeerMethods;
  readonly channelCredentials: ChannelCredentials;
  readonly channelOptions: ChannelOptions;
  readonly snapshotSource: SnapshotSource;
  /** Callbacks into the node; never invoked synchronously (the transport defers them). */
  readonly handler: TransportHandler;
  readonly logger: Logger;
  readonly rng: Rng;
}

/** The state of a link's stream. */
export type PeerLinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

/** Counters of one link, for tests, status pages and metrics. */
export interface PeerLinkStats {
  readonly peer: NodeId;
  readonly address: string;
  readonly state: PeerLinkState;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Batches written on the current stream and not yet acknowledged. */
  readonly inflightBatches: number;
  /** The largest `inflightBatches` seen (pipelining depth). */
  readonly peakInflightBatches: number;
  readonly batchesSent: number;
  readonly messagesSent: number;
  readonly batchesAcked: number;
  /** Messages dropped by the queue bound or as unsendable. */
  readonly messagesDropped: number;
  /** Streams that were accepted by the peer. */
  readonly streamsOpened: number;
  /** Streams that failed to open or broke. */
  readonly streamFailures: number;
  readonly snapshotsSent: number;
  readonly snapshotsFailed: number;
  readonly snapshotInFlight: boolean;
}

interface Queued {
  readonly msg: Message;
  readonly size: number;
}

/** Headroom for the Batch envelope fields around the payload. */
const ENVELOPE_HEADROOM = 4096;

/**
 * One outbound peer. Messages are delivered in order on one stream; everything queued in one
 * event-loop turn is written as one Batch (split only at `maxBatchBytes`); up to
 * `maxInflightBatches` Batches are in flight at once. When the stream breaks, the Batches in
 * flight are lost (Raft retransmits), `onUnreachable` is reported and the link reconnects after
 * a backoff, keeping later messages queued (bounded: the oldest are dropped first).
 */
export class PeerLink {
  private client: Client | undefined;
  private state: PeerLinkState = 'idle';
  private call: ClientDuplexStream<BatchOut, AckIn> | undefined;
  private readonly queue = new Fifo<Queued>();
  private queueBytes = 0;
  private nextSeq = 1;
  private ackedSeq = 0;
  private flushScheduled = false;
  private waitingDrain = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private snapshotCall: ClientWritableStream<SnapshotChunkOut> | undefined;
  private snapshotBusy = false;
  private pendingSnapshot: SnapshotMessage | undefined;
  private warnedDrop = false;
  private readonly log: Logger;
  private counters = {
    peakInflightBatches: 0,
    batchesSent: 0,
    messagesSent: 0,
    batchesAcked: 0,
    messagesDropped: 0,
    streamsOpened: 0,
    streamFailures: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
  };

  constructor(
    private readonly ctx: PeerLinkContext,
    readonly peer: NodeId,
    readonly address: string,
  ) {
    this.backoff = new Backoff({ initialMs: ctx.limits.backoffInitialMs, maxMs: ctx.limits.backoffMaxMs }, ctx.rng);
    this.log = ctx.logger.child({ peer, address });
  }

  /** Queues stream messages (never 'snapshot') for this peer; never blocks or throws. */
  enqueue(messages: readonly Message[]): void {
    if (this.state === 'closed') return;
    for (const msg of messages) {
      const size = estimateMessageSize(msg);
      this.queue.push({ msg, size });
      this.queueBytes += size;
    }
    let dropped = 0;
    const { maxQueueMessages, maxQueueBytes } = this.ctx.limits;
    while (this.queue.length > maxQueueMessages || (this.queueBytes > maxQueueBytes && this.queue.length > 1)) {
      const old = this.queue.shift();
      if (!old) break;
      this.queueBytes -= old.size;
      dropped++;
    }
    if (dropped > 0) {
      this.counters.messagesDropped += dropped;
      if (!this.warnedDrop) this.log.warn({ dropped, state: this.state }, 'peer send queue full; dropping oldest messages');
      this.warnedDrop = true;
      this.ctx.handler.onUnreachable(this.peer);
    }
    if (this.state === 'idle') this.connect();
    else if (this.state === 'open') this.scheduleFlush();
  }

  /**
   * Sends a snapshot over InstallSnapshot and reports `onSnapshotStatus` exactly once for it.
   * Transfers to one peer run one at a time: a snapshot requested during a transfer waits for it,
   * and a newer request replaces a waiting one (which is reported as failed).
   */
  sendSnapshot(msg: SnapshotMessage): void {
    if (this.state === 'closed') return;
    if (this.snapshotBusy) {
      if (this.pendingSnapshot) {
        this.log.debug({ index: this.pendingSnapshot.meta.index }, 'waiting snapshot superseded by a newer request');
        this.reportSnapshot(false);
      }
      this.pendingSnapshot = msg;
      return;
    }
    this.snapshotBusy = true;
    void this.transferSnapshot(msg).then((ok) => {
      this.snapshotBusy = false;
      this.snapshotCall = undefined;
      if (this.state === 'closed') return;
      this.reportSnapshot(ok);
      const next = this.pendingSnapshot;
      this.pendingSnapshot = undefined;
      if (next) this.sendSnapshot(next);
    });
  }

  private reportSnapshot(ok: boolean): void {
    if (ok) this.counters.snapshotsSent++;
    else this.counters.snapshotsFailed++;
    this.ctx.handler.onSnapshotStatus(this.peer, ok);
    if (!ok) this.ctx.handler.onUnreachable(this.peer);
  }

  /** Counters and state of this link. */
  stats(): PeerLinkStats {
    return {
      peer: this.peer,
      address: this.address,
      state: this.state,
      queuedMessages: this.queue.length,
      queuedBytes: this.queueBytes,
      inflightBatches: this.nextSeq - 1 - this.ackedSeq,
      ...this.counters,
      snapshotInFlight: this.snapshotBusy,
    };
  }

  /** Cancels the stream and any snapshot transfer, drops the queue, closes the channel. Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimer();
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.snapshotCall?.cancel();
    this.snapshotCall = undefined;
    this.pendingSnapshot = undefined;
    this.queue.clear();
    this.queueBytes = 0;
    this.client?.close();
    this.client = undefined;
  }

  private getClient(): Client {
    this.client ??= new Client(this.address, this.ctx.channelCredentials, this.ctx.channelOptions);
    return this.client;
  }

  private identity(): Metadata {
    const md = new Metadata();
    md.set(HEADER_CLUSTER_ID, this.ctx.clusterId);
    md.set(HEADER_FROM, this.ctx.nodeId);
    md.set(HEADER_TO, this.peer);
    return md;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private connect(): void {
    this.clearTimer();
    const m = this.ctx.methods.stream;
    let call: ClientDuplexStream<BatchOut, AckIn>;
    try {
      call = this.getClient().makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, this.identity(), {});
    } catch (err) {
      this.log.error({ err }, 'cannot start peer stream');
      this.retryLater();
      return;
    }
    this.call = call;
    this.state = 'connecting';
    this.nextSeq = 1;
    this.ackedSeq = 0;
    this.waitingDrain = false;
    this.timer = setTimeout(() => {
      if (this.call === call && this.state === 'connecting') this.fail(call, `not accepted within ${this.ctx.limits.connectTimeoutMs} ms`);
    }, this.ctx.limits.connectTimeoutMs);
    call.on('metadata', () => {
      if (this.call !== call || this.state !== 'connecting') return;
      this.clearTimer();
      this.state = 'open';
      if (this.backoff.attempts > 0) this.log.info({ attempts: this.backoff.attempts }, 'peer stream open again');
      else this.log.debug('peer stream open');
      this.backoff.reset();
      this.warnedDrop = false;
      this.counters.streamsOpened++;
      this.scheduleFlush();
    });
    call.on('data', (ack: AckIn) => this.onAck(call, ack));
    call.on('error', (err: ServiceError) => this.fail(call, `${GrpcCode[err.code] ?? err.code}: ${err.details}`));
    call.on('end', () => this.fail(call, 'stream ended by the peer'));
  }

  private onAck(call: ClientDuplexStream<BatchOut, AckIn>, ack: AckIn): void {
    if (this.call !== call) return;
    // Acks are cumulative (the receiver coalesces them): any seq past the last ack and sent so far.
    const seq = Number(ack.seq);
    if (!Number.isSafeInteger(seq) || seq <= this.ackedSeq || seq >= this.nextSeq) {
      this.fail(call, `protocol error: ack ${ack.seq} after ${this.ackedSeq} with ${this.nextSeq - 1} sent`);
      return;
    }
    this.counters.batchesAcked += seq - this.ackedSeq;
    this.ackedSeq = seq;
    if (this.queue.length > 0) this.scheduleFlush();
  }

  /** Handles the end of `call` (error, end, timeout): report, then reconnect after a backoff. */
  private fail(call: ClientDuplexStream<BatchOut, AckIn>, reason: string): void {
    if (this.call !== call) return;
    this.call = undefined;
    this.clearTimer();
    call.cancel();
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    const lostBatches = this.nextSeq - 1 - this.ackedSeq;
    this.counters.streamFailures++;
    if (wasOpen) this.log.warn({ reason, lostBatches }, 'peer stream broke');
    else if (this.backoff.attempts === 0) this.log.warn({ reason }, 'cannot open peer stream');
    else this.log.debug({ reason, attempts: this.backoff.attempts }, 'cannot open peer stream');
    this.ctx.handler.onUnreachable(this.peer);
    this.retryLater();
  }

  private retryLater(): void {
    this.state = 'backoff';
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state !== 'backoff') return;
      if (this.queue.length > 0) this.connect();
      else this.state = 'idle';
    }, this.backoff.next());
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes queued messages as Batches while the window and the stream's buffer allow. */
  private flush(): void {
    const call = this.call;
    if (!call || this.state !== 'open' || this.waitingDrain) return;
    const { maxBatchBytes, maxInflightBatches, maxMessageBytes } = this.ctx.limits;
    while (this.queue.length > 0 && this.nextSeq - 1 - this.ackedSeq < maxInflightBatches) {
      const batch: Message[] = [];
      let bytes = 0;
      for (let head = this.queue.peek(); head; head = this.queue.peek()) {
        if (batch.length > 0 && bytes + head.size > maxBatchBytes) break;
        this.queue.shift();
        this.queueBytes -= head.size;
        batch.push(head.msg);
        bytes += head.size;
      }
      let payload: Uint8Array;
      try {
        payload = encodeMessages(batch);
      } catch (err) {
        this.drop(batch.length, 'cannot encode batch', err);
        continue;
      }
      if (payload.length + ENVELOPE_HEADROOM > maxMessageBytes) {
        this.drop(batch.length, `batch of ${payload.length} bytes exceeds maxMessageBytes ${maxMessageBytes}`);
        continue;
      }
      const seq = this.nextSeq++;
      this.counters.batchesSent++;
      this.counters.messagesSent += batch.length;
      this.counters.peakInflightBatches = Math.max(this.counters.peakInflightBatches, seq - this.ackedSeq);
      let writable: boolean;
      try {
        writable = call.write({ clusterId: this.ctx.clusterId, from: this.ctx.nodeId, to: this.peer, seq, payload });
      } catch (err) {
        this.fail(call, `write failed: ${(err as Error).message}`);
        return;
      }
      if (!writable) {
        this.waitingDrain = true;
        call.once('drain', () => {
          if (this.call !== call) return;
          this.waitingDrain = false;
          this.scheduleFlush();
        });
        return;
      }
    }
  }

  private drop(count: number, reason: string, err?: unknown): void {
    this.counters.messagesDropped += count;
    this.log.error({ err, count }, `dropping unsendable messages: ${reason}`);
    this.ctx.handler.onUnreachable(this.peer);
  }

  /** Resolves the snapshot to send: the message's own bytes, else the stored one (same or newer). */
  private async resolveSnapshot(msg: SnapshotMessage): Promise<Snapshot> {
    if (msg.data) return { meta: msg.meta, data: msg.data };
    const stored = await this.ctx.snapshotSource();
    if (!stored) throw new Error('the snapshot source has no snapshot');
    if (stored.meta.index < msg.meta.index) throw new Error(`the stored snapshot (index ${stored.meta.index}) is older than the requested one (index ${msg.meta.index})`);
    return stored;
  }

  /** Streams one snapshot in chunks; resolves true when the peer acknowledged it whole. */
  private async transferSnapshot(msg: SnapshotMessage): Promise<boolean> {
    let snap: Snapshot;
    try {
      snap = await this.resolveSnapshot(msg);
    } catch (err) {
      this.log.warn({ err, index: msg.meta.index }, 'cannot send snapshot');
      return false;
    }
    if (this.state === 'closed') return false;
    const { data: _unused, ...rest } = msg;
    const message: SnapshotMessage = { ...rest, meta: snap.meta };
    const size = snap.data.length;
    if (size > this.ctx.limits.maxSnapshotBytes) {
      this.log.error({ size, max: this.ctx.limits.maxSnapshotBytes }, 'snapshot larger than maxSnapshotBytes; not sent');
      return false;
    }
    const header = encode({ message, size });
    const chunkBytes = this.ctx.limits.snapshotChunkBytes;
    const m = this.ctx.methods.installSnapshot;

    return new Promise<boolean>((resolve) => {
      let finished = false;
      let wake: (() => void) | undefined;
      const call = this.getClient().makeClientStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        this.identity(),
        { deadline: Date.now() + this.ctx.limits.snapshotTimeoutMs },
        (err: ServiceError | null) => {
          finished = true;
          wake?.();
          if (err) this.log.warn({ code: GrpcCode[err.code] ?? err.code, details: err.details, index: snap.meta.index, size }, 'snapshot transfer failed');
          else this.log.info({ index: snap.meta.index, size }, 'snapshot sent');
          resolve(!err);
        },
      );
      this.snapshotCall = call;
      const pump = async (): Promise<void> => {
        let offset = 0;
        do {
          const end = Math.min(offset + chunkBytes, size);
          const chunk: SnapshotChunkOut = {
            clusterId: this.ctx.clusterId,
            from: this.ctx.nodeId,
            to: this.peer,
            header: offset === 0 ? header : new Uint8Array(0),
            offset,
            data: snap.data.subarray(offset, end),
          };
          offset = end;
          if (!call.write(chunk)) {
            await new Promise<void>((res) => {
              wake = res;
              call.once('drain', res);
            });
            wake = undefined;
          }
          if (finished) return;
        } while (offset < size);
        call.end();
      };
      pump().catch((err: unknown) => {
        this.log.warn({ err }, 'snapshot write failed');
        call.cancel();
      });
    });
  }
}
