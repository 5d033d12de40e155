/**
 * A raw gRPC client of proto/latch.proto for server tests: promisified unary calls against one
 * endpoint, exposing the status code and the latch-code / latch-leader trailers of errors.
 */
import { credentials, Metadata, type ChannelCredentials, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadProto } from '../../src/common/proto.js';

/** A failed call: gRPC code, message and Latch trailers. */
export interface CallError {
  readonly code: number;
  readonly details: string;
  readonly latchCode?: string;
  readonly leader?: string;
}

type Cb = (err: ServiceError | null, res?: unknown) => void;
type UnaryFn = (req: object, md: Metadata, opts: { deadline: number }, cb: Cb) => void;

/** Unary calls by `Service.method`, e.g. `call('Sessions', 'open', {...})`. */
export class RawClient {
  private readonly clients = new Map<string, Client>();
  /**
   * `ownConnection`: do not share grpc-js's global subchannel pool (a separate TCP connection).
   * `token`: sent as `authorization: Bearer <token>` on every call. `creds`: channel credentials (TLS); plain text by default.
   */
  constructor(
    readonly endpoint: string,
    private readonly ownConnection = false,
    private readonly token?: string,
    private readonly creds: ChannelCredentials = credentials.createInsecure(),
  ) {}

  private metadata(): Metadata {
    const md = new Metadata();
    if (this.token !== undefined) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  /** Sends one request on a Sessions.KeepAlive stream; resolves with the first answer, rejects with the stream's CallError. */
  keepAliveOnce(req: { sessionId: string; nonce: string }, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const c = this.client('Sessions') as unknown as { keepAlive(md: Metadata, opts: { deadline: number }): import('@grpc/grpc-js').ClientDuplexStream<object, Record<string, unknown>> };
    return new Promise((resolve, reject) => {
      const stream = c.keepAlive(this.metadata(), { deadline: Date.now() + timeoutMs });
      stream.on('data', (res) => {
        resolve(res);
        stream.cancel();
      });
      stream.on('error', (err: ServiceError) => {
        const latchCode = err.metadata?.get('latch-code')[0];
        reject({ code: err.code, details: err.details, ...(latchCode ? { latchCode: String(latchCode) } : {}) } satisfies CallError);
      });
      stream.write(req);
    });
  }

  private client(service: string): Client {
    let c = this.clients.get(service);
    if (!c) {
      const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
      const Ctor = pkg.latch.v1[service] as ServiceClientConstructor;
      c = new Ctor(this.endpoint, this.creds, this.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {});
      this.clients.set(service, c);
    }
    return c;
  }

  /** Calls and resolves with the response; rejects with a CallError. */
  call<T = Record<string, unknown>>(service: string, method: string, req: object = {}, timeoutMs = 5000): Promise<T> {
    const c = this.client(service) as unknown as Record<string, UnaryFn>;
    const fn = c[method];
    if (!fn) throw new Error(`no method ${service}.${method}`);
    return new Promise<T>((resolve, reject) => {
      fn.call(c, req, this.metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) {
          const latchCode = err.metadata?.get('latch-code')[0];
          const leader = err.metadata?.get('latch-leader')[0];
          reject({ code: err.code, details: err.details, ...(latchCode ? { latchCode: String(latchCode) } : {}), ...(leader ? { leader: String(leader) } : {}) } satisfies CallError);
        } else resolve(res as T);
      });
    });
  }

  /** Like `call`, but returns the error instead of throwing. */
  async attempt<T = Record<string, unknown>>(service: string, method: string, req: object = {}, timeoutMs = 5000): Promise<{ ok: true; value: T } | { ok: false; error: CallError }> {
    try {
      return { ok: true, value: await this.call<T>(service, method, req, timeoutMs) };
    } catch (error) {
      return { ok: false, error: error as CallError };
    }
  }

  close(): void {
    // Not c.close(): Sessions has an RPC named Close that shadows Client.close.
    for (const c of this.clients.values()) c.getChannel().close();
    this.clients.clear();
  }
}

/** Finds the leader's client endpoint by asking each endpoint's Cluster.Status. */
export async function leaderEndpoint(endpoints: readonly string[], token?: string): Promise<string | undefined> {
  for (const e of endpoints) {
    const c = new RawClient(e, false, token);
    const r = await c.attempt<{ role: string; leaderClientAddress: string }>('Cluster', 'status', {}, 1000);
    c.close();
    if (r.ok && r.value.role === 'leader') return e;
  }
  return undefined;
}
