/**
 * The port between the SDK's logic and the wire: one call or stream at one endpoint, no retries.
 * `GrpcRpcTransport` implements it over @grpc/grpc-js; tests use in-memory fakes. Every failure
 * is already a typed error (error-mapping.ts), carrying any `latch-leader` hint.
 */
import type { StreamMethod, StreamMethods, UnaryMethod, UnaryMethods, WireKeepAliveRequest, WireKeepAliveResponse } from './wire.js';

/** Options of one unary attempt. */
export interface AttemptOptions {
  /** The gRPC deadline of this attempt, from now. */
  readonly timeoutMs: number;
  /** Cancels the attempt; the promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Callbacks of a stream; `onEnd` is called exactly once (null on a clean end) unless the stream is cancelled locally. */
export interface StreamHandlers<T> {
  onData(msg: T): void;
  onEnd(err: Error | null): void;
}

/** A running server stream. */
export interface ServerStreamHandle {
  /** Cancels the stream; no more callbacks follow. */
  cancel(): void;
  /** Stops delivering messages until `resume` (flow control). */
  pause(): void;
  resume(): void;
}

/** A running keepalive stream. */
export interface KeepAliveStreamHandle {
  /** Sends one keepalive request. */
  send(req: WireKeepAliveRequest): void;
  /** Cancels the stream; no more callbacks follow. */
  cancel(): void;
}

/** One call or stream at one endpoint, no retries. */
export interface RpcTransport {
  unary<M extends UnaryMethod>(endpoint: string, method: M, req: UnaryMethods[M]['req'], opts: AttemptOptions): Promise<UnaryMethods[M]['res']>;
  serverStream<M extends StreamMethod>(
    endpoint: string,
    method: M,
    req: StreamMethods[M]['req'],
    handlers: StreamHandlers<StreamMethods[M]['res']>,
  ): ServerStreamHandle;
  keepAlive(endpoint: string, handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle;
  /** Closes every channel; later calls fail with CLIENT_CLOSED. */
  close(): void;
}
