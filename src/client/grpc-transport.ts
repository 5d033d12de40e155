/**
 * `RpcTransport` over @grpc/grpc-js: one channel per endpoint, shared by every service. Lock
 * operations (Acquire, Release, SetValue) go over one lazily opened Locks.Stream per endpoint
 * (lock-stream.ts); everything else, and lock operations at a server without Locks.Stream, is unary.
 * The keepalives of every session at one endpoint share one Sessions.KeepAliveBatch stream
 * (keepalive-mux.ts), or per-session Sessions.KeepAlive streams at a server without it.
 */
import { Client, credentials as grpcCredentials, Metadata, type ChannelCredentials, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import type { MethodDefinition, ServiceClientConstructor } from '@grpc/grpc-js';
import { systemClock } from '../common/clock.js';
import { loadProto } from '../common/proto.js';
import { LatchClientError } from './errors.js';
import { errorFromStatus } from './error-mapping.js';
import { KeepAliveMux, type KeepAliveBatchSink, type KeepAliveBatchWire } from './keepalive-mux.js';
import { LockStream, MAX_PENDING_PER_STREAM } from './lock-stream.js';
import type { AttemptOptions, KeepAliveStreamHandle, RpcTransport, ServerStreamHandle, StreamHandlers } from './rpc-transport.js';
import { systemTimers } from './timers.js';
import {
  LOCK_STREAM_OPS,
  type LockStreamMethod,
  type StreamMethod,
  type StreamMethods,
  type UnaryMethod,
  type UnaryMethods,
  type WireKeepAliveBatchRequest,
  type WireKeepAliveBatchResponse,
  type WireKeepAliveRequest,
  type WireKeepAliveResponse,
  type WireLockStreamRequest,
  type WireLockStreamResponse,
} from './wire.js';

/** Channel settings of the gRPC transport. */
export interface GrpcTransportOptions {
  /** Channel credentials; plain text (`credentials.createInsecure()`) when absent. */
  readonly credentials?: ChannelCredentials;
  /** A bearer token sent as `authorization: Bearer <token>` on every call. */
  readonly token?: string;
  /** Extra gRPC channel options. */
  readonly channelOptions?: ChannelOptions;
}

type AnyMethod = MethodDefinition<unknown, unknown>;

const SERVICES = ['Cluster', 'Sessions', 'Locks', 'Elections', 'Watch'] as const;

let definitions: Map<string, AnyMethod> | undefined;

/** The client method definitions of proto/latch.proto by `Service/Method`, loaded once. */
function methodDefinitions(): Map<string, AnyMethod> {
  if (definitions) return definitions;
  const root = loadProto('latch.proto') as unknown as { latch?: { v1?: Record<string, ServiceClientConstructor | undefined> } };
  const pkg = root.latch?.v1;
  const out = new Map<string, AnyMethod>();
  for (const svc of SERVICES) {
    const ctor = pkg?.[svc];
    if (!ctor?.service) throw new Error(`proto/latch.proto has no service latch.v1.${svc}`);
    for (const [name, def] of Object.entries(ctor.service)) out.set(`${svc}/${name}`, def as AnyMethod);
  }
  definitions = out;
  return out;
}

/** After a server answered Locks.Stream with UNIMPLEMENTED, lock operations at it stay unary this long before the stream is tried again. */
export const UNARY_FALLBACK_MS = 60_000;

function isLockStreamMethod(m: UnaryMethod): m is LockStreamMethod {
  return Object.hasOwn(LOCK_STREAM_OPS, m);
}

const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  // Reconnect to a restarted node quickly: the SDK paces retries itself.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.enable_retries': 0,
};

/** The gRPC implementation of `RpcTransport`. */
export class GrpcRpcTransport implements RpcTransport {
  private readonly clients = new Map<string, Client>();
  private readonly creds: ChannelCredentials;
  private closed = false;
  /** The open Locks.Stream of each endpoint. */
  private readonly lockStreams = new Map<string, LockStream>();
  /** Endpoints that answered Locks.Stream with UNIMPLEMENTED, and until when they get unary calls. */
  private readonly unaryUntil = new Map<string, number>();
  /** The keepalive streams of each endpoint (one shared KeepAliveBatch stream while sessions use it). */
  private readonly keepAliveMuxes = new Map<string, KeepAliveMux>();

  constructor(private readonly opts: GrpcTransportOptions = {}) {
    this.creds = opts.credentials ?? grpcCredentials.createInsecure();
    methodDefinitions();
  }

  unary<M extends UnaryMethod>(endpoint: string, method: M, req: UnaryMethods[M]['req'], opts: AttemptOptions): Promise<UnaryMethods[M]['res']> {
    if (isLockStreamMethod(method)) {
      const stream = this.lockStream(endpoint);
      if (stream) return stream.call(method, req as UnaryMethods[typeof method]['req'], opts) as Promise<UnaryMethods[M]['res']>;
    }
    return this.unaryCall(endpoint, method, req, opts);
  }

  /** One real unary call. */
  private unaryCall<M extends UnaryMethod>(endpoint: string, method: M, req: UnaryMethods[M]['req'], opts: AttemptOptions): Promise<UnaryMethods[M]['res']> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(opts.signal.reason);
        return;
      }
      let client: Client;
      let def: AnyMethod;
      try {
        client = this.client(endpoint);
        def = this.method(method);
      } catch (err) {
        reject(err);
        return;
      }
      const onAbort = (): void => call.cancel();
      const call = client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        req,
        this.metadata(),
        { deadline: Date.now() + Math.max(1, opts.timeoutMs) },
        (err: ServiceError | null, res?: unknown) => {
          opts.signal?.removeEventListener('abort', onAbort);
          if (opts.signal?.aborted) reject(opts.signal.reason);
          else if (err) reject(errorFromStatus(err));
          else resolve(res as UnaryMethods[M]['res']);
        },
      );
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  serverStream<M extends StreamMethod>(
    endpoint: string,
    method: M,
    req: StreamMethods[M]['req'],
    handlers: StreamHandlers<StreamMethods[M]['res']>,
  ): ServerStreamHandle {
    const ender = onceEnder(handlers);
    let call: ReturnType<Client['makeServerStreamRequest']>;
    try {
      const def = this.method(method);
      call = this.client(endpoint).makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, req, this.metadata(), {});
    } catch (err) {
      queueMicrotask(() => ender.end(err instanceof Error ? err : new Error(String(err))));
      return { cancel: () => ender.silence(), pause: () => undefined, resume: () => undefined };
    }
    call.on('data', (msg: unknown) => ender.data(msg as StreamMethods[M]['res']));
    call.on('error', (err: ServiceError) => ender.end(errorFromStatus(err)));
    // A clean end is reported on 'end' (after every buffered message was delivered), not on 'status'.
    call.on('end', () => ender.end(null));
    return {
      cancel: () => {
        ender.silence();
        call.cancel();
      },
      pause: () => call.pause(),
      resume: () => call.resume(),
    };
  }

  /** A virtual per-session stream on the endpoint's shared KeepAliveBatch stream (keepalive-mux.ts). */
  keepAlive(endpoint: string, handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle {
    let mux = this.keepAliveMuxes.get(endpoint);
    if (!mux) {
      mux = new KeepAliveMux(endpoint, {
        openBatch: (sink) => this.openKeepAliveBatch(endpoint, sink),
        openSingle: (h) => this.singleKeepAlive(endpoint, h),
        timers: systemTimers,
        clock: systemClock,
      });
      this.keepAliveMuxes.set(endpoint, mux);
    }
    return mux.open(handlers);
  }

  /** Opens one physical Sessions.KeepAliveBatch stream (throws CLIENT_CLOSED once closed). */
  private openKeepAliveBatch(endpoint: string, sink: KeepAliveBatchSink): KeepAliveBatchWire {
    const def = this.method('Sessions/KeepAliveBatch');
    const call = this.client(endpoint).makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, this.metadata(), {});
    call.on('data', (msg: unknown) => sink.onData(msg as WireKeepAliveBatchResponse));
    call.on('error', (err: ServiceError) => sink.onEnd(err));
    // A clean end is reported on 'end' (after every buffered message was delivered), not on 'status'.
    call.on('end', () => sink.onEnd(null));
    return {
      write: (msg: WireKeepAliveBatchRequest) => {
        if (call.writable) call.write(msg);
      },
      cancel: () => call.cancel(),
    };
  }

  /** One per-session Sessions.KeepAlive stream (at a server without KeepAliveBatch). */
  private singleKeepAlive(endpoint: string, handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle {
    const ender = onceEnder(handlers);
    let call: ReturnType<Client['makeBidiStreamRequest']>;
    try {
      const def = this.method('Sessions/KeepAlive');
      call = this.client(endpoint).makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, this.metadata(), {});
    } catch (err) {
      queueMicrotask(() => ender.end(err instanceof Error ? err : new Error(String(err))));
      return { send: () => undefined, cancel: () => ender.silence() };
    }
    call.on('data', (msg: unknown) => ender.data(msg as WireKeepAliveResponse));
    call.on('error', (err: ServiceError) => ender.end(errorFromStatus(err)));
    // A clean end is reported on 'end' (after every buffered message was delivered), not on 'status'.
    call.on('end', () => ender.end(null));
    return {
      send: (req: WireKeepAliveRequest) => {
        if (!ender.done && call.writable) call.write(req);
      },
      cancel: () => {
        ender.silence();
        call.cancel();
      },
    };
  }

  close(): void {
    this.closed = true;
    const closedErr = new LatchClientError('CLIENT_CLOSED', 'the Latch client is closed');
    for (const s of [...this.lockStreams.values()]) s.close(closedErr);
    this.lockStreams.clear();
    for (const m of this.keepAliveMuxes.values()) m.close(closedErr);
    this.keepAliveMuxes.clear();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /**
   * The endpoint's Locks.Stream, opened on first use; undefined when the call should go unary
   * (the server lacks the method, the stream is full, or the stream cannot be opened).
   */
  private lockStream(endpoint: string): LockStream | undefined {
    const existing = this.lockStreams.get(endpoint);
    if (existing) return existing.size < MAX_PENDING_PER_STREAM ? existing : undefined;
    const until = this.unaryUntil.get(endpoint);
    if (until !== undefined) {
      if (Date.now() < until) return undefined;
      this.unaryUntil.delete(endpoint);
    }
    let call: ReturnType<Client['makeBidiStreamRequest']>;
    try {
      const def = this.method('Locks/Stream');
      call = this.client(endpoint).makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, this.metadata(), {});
    } catch {
      return undefined; // the unary path reports the same problem (e.g. CLIENT_CLOSED) as a typed error
    }
    const stream = new LockStream(
      endpoint,
      {
        write: (msg: WireLockStreamRequest) => {
          call.write(msg);
        },
        cancel: () => call.cancel(),
      },
      {
        timers: systemTimers,
        clock: systemClock,
        unary: (method, req, opts) => this.unaryCall(endpoint, method, req, opts),
        onClosed: (s, unimplemented) => {
          if (this.lockStreams.get(endpoint) === s) this.lockStreams.delete(endpoint);
          if (unimplemented) this.unaryUntil.set(endpoint, Date.now() + UNARY_FALLBACK_MS);
        },
      },
    );
    call.on('data', (msg: unknown) => stream.onData(msg as WireLockStreamResponse));
    call.on('error', (err: ServiceError) => stream.onEnd(err));
    // A clean end is reported on 'end' (after every buffered message was delivered), not on 'status'.
    call.on('end', () => stream.onEnd(null));
    this.lockStreams.set(endpoint, stream);
    return stream;
  }

  private client(endpoint: string): Client {
    if (this.closed) throw new LatchClientError('CLIENT_CLOSED', 'the Latch client is closed');
    let c = this.clients.get(endpoint);
    if (!c) {
      c = new Client(endpoint, this.creds, { ...DEFAULT_CHANNEL_OPTIONS, ...this.opts.channelOptions });
      this.clients.set(endpoint, c);
    }
    return c;
  }

  private method(name: string): AnyMethod {
    const def = methodDefinitions().get(name);
    if (!def) throw new Error(`unknown method ${name}`);
    return def;
  }

  private metadata(): Metadata {
    const md = new Metadata();
    if (this.opts.token !== undefined) md.set('authorization', `Bearer ${this.opts.token}`);
    return md;
  }
}

/** Delivers data until the first end, then only that end, once; `silence` stops everything. */
function onceEnder<T>(h: StreamHandlers<T>): { data(msg: T): void; end(err: Error | null): void; silence(): void; readonly done: boolean } {
  let done = false;
  return {
    data(msg: T) {
      if (!done) h.onData(msg);
    },
    end(err: Error | null) {
      if (done) return;
      done = true;
      h.onEnd(err);
    },
    silence() {
      done = true;
    },
    get done() {
      return done;
    },
  };
}

/** The gRPC method definition keys, for tests that check the proto still has what the SDK calls. */
export function knownMethods(): string[] {
  return [...methodDefinitions().keys()].sort();
}

