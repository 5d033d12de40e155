/**
 * The client-facing gRPC server (proto/latch.proto): registers every service, turns each handler's
 * thrown LatchError into its gRPC status (grpc-errors.ts), and counts calls by method and code.
 * Lock operations also arrive multiplexed on Locks.Stream; each one runs through the same
 * `runCall` as its unary twin (authorization, handler, metrics, error mapping) and its answer or
 * CallError goes back on the stream with its call_id. Keepalives of many sessions arrive batched on
 * Sessions.KeepAliveBatch; each runs through the service's same `keepAlive` as on Sessions.KeepAlive,
 * and the answers ready in one turn go back together.
 */
import type { PeerCertificate } from 'node:tls';
import {
  Server,
  ServerCredentials,
  type Metadata,
  status as GrpcCode,
  type GrpcObject,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceClientConstructor,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { LatchError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { loadProto } from '../common/proto.js';
import { callErrorOf, callStatus, invalidArgument, serviceErrorOf, toServiceError, type CallStatus } from './grpc-errors.js';
import { wireId, type CallCancellation, type KeepAliveAnswer, type LatchService } from './latch-service.js';

/** Max bytes of one client request (names ≤ 256 B, values ≤ 4 KiB: this leaves ample room). */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/** Most calls pending at once on one Locks.Stream; the excess gets CallError RESOURCE_EXHAUSTED. */
export const MAX_PENDING_PER_LOCK_STREAM = 1024;

/** Most requests in one KeepAliveBatchRequest (a bigger batch ends the stream with INVALID_ARGUMENT), and most answers the server puts in one KeepAliveBatchResponse. */
export const MAX_KEEPALIVE_BATCH = 4096;

/** What a handler gets besides its request. */
interface CallContext {
  /** The client's address (gRPC peer string). */
  readonly peer: string;
  /** Fires when the client gives up on the call (unary: cancelled; stream: CancelCall or stream end). */
  readonly cancellation: CallCancellation;
  /** The client certificate's identity under mutual TLS (`cert:…`), when there is one. */
  readonly certIdentity?: string;
  /** Who is calling (set by runCall): the token's identity, else the certificate's; undefined without either. */
  readonly identity?: string;
}

type Handler = (req: never, ctx: CallContext) => Promise<unknown>;

/** One client operation: its method name (authorization, metrics) and handler. */
interface Operation {
  readonly method: string;
  readonly fn: Handler;
}

/** How one call ended: its response, or the status it failed with. */
type Outcome = { readonly ok: true; readonly res: unknown } | { readonly ok: false; readonly status: CallStatus };

/**
 * Checks one call before it runs; throws UNAUTHENTICATED / PERMISSION_DENIED (a LatchError).
 * Returns the caller's identity (e.g. `token:<name>`), which sessions are bound to.
 */
export type Authorize = (method: string, authorization: string | undefined, req: unknown) => string | undefined;

/** Options of the client gRPC server. */
export interface ClientServerOptions {
  /** Listener credentials (TLS); plain text when absent. */
  readonly credentials?: ServerCredentials;
  /** Per-call check; no authentication when absent. */
  readonly authorize?: Authorize;
}

function authorization(call: { metadata: Metadata }): string | undefined {
  const v = call.metadata.get('authorization')[0];
  return typeof v === 'string' ? v : undefined;
}

/** The identity of a mutual-TLS client certificate (`cert:CN=…`, or its SHA-256 fingerprint), or undefined over plain text. */
export function certIdentity(call: { getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } }): string | undefined {
  const cert = call.getAuthContext?.().sslPeerCertificate;
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  if (typeof cn === 'string' && cn !== '') return `cert:CN=${cn}`;
  return cert.fingerprint256 ? `cert:sha256=${cert.fingerprint256}` : undefined;
}

/**
 * Runs one call the way every path runs it (unary or Locks.Stream): authorize it, run its
 * handler, count it by method and code, and map a thrown error to its status.
 */
function runCall(service: LatchService, log: Logger, authorize: Authorize | undefined, op: Operation, req: unknown, auth: string | undefined, ctx: CallContext): Promise<Outcome> {
  return Promise.resolve()
    .then(() => {
      const identity = authorize?.(op.method, auth, req) ?? ctx.certIdentity;
      return op.fn(req as never, identity === undefined ? ctx : { ...ctx, identity });
    })
    .then(
      (res): Outcome => {
        service.countCall(op.method, 'OK');
        return { ok: true, res };
      },
      (err: unknown): Outcome => {
        const status = callStatus(err);
        service.countCall(op.method, GrpcCode[status.code] ?? 'UNKNOWN');
        if (status.code === GrpcCode.INTERNAL) log.error({ err, method: op.method }, 'request failed');
        return { ok: false, status };
      },
    );
}

type Run = (op: Operation, req: unknown, auth: string | undefined, ctx: CallContext) => Promise<Outcome>;

function unary(op: Operation, run: Run) {
  return (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>): void => {
    const cert = certIdentity(call);
    void run(op, call.request, authorization(call), { peer: call.getPeer(), cancellation: call, ...(cert ? { certIdentity: cert } : {}) }).then((o) => {
      if (o.ok) cb(null, o.res);
      else cb(serviceErrorOf(o.status), null);
    });
  };
}

/** The cancellation of one call on a Locks.Stream: fired by a CancelCall for it or by the end of the stream. */
class StreamCallCancellation implements CallCancellation {
  private listeners: (() => void)[] | null = [];

  on(_event: 'cancelled', listener: () => void): this {
    if (this.listeners) this.listeners.push(listener);
    else listener();
    return this;
  }

  cancel(): void {
    const ls = this.listeners;
    this.listeners = null;
    for (const l of ls ?? []) l();
  }
}

/** The three lock operations a Locks.Stream request can carry, by its `op` oneof field. */
type LockOps = Readonly<Record<'acquire' | 'release' | 'setValue', Operation>>;

interface LockStreamRequest {
  readonly callId?: string;
  readonly op?: string;
  readonly acquire?: unknown;
  readonly release?: unknown;
  readonly setValue?: unknown;
}

/**
 * Serves one Locks.Stream (see proto/latch.proto, LockStreamRequest): each operation runs through
 * `run` exactly as its unary call, with the stream's metadata; its answer or CallError is written
 * with its call_id as soon as it is ready, in any order. A bad request gets a CallError and never
 * ends the stream. CancelCall, or the end of the stream, cancels pending calls.
 */
function serveLockStream(call: ServerDuplexStream<LockStreamRequest, unknown>, ops: LockOps, run: Run, service: LatchService): void {
  const auth = authorization(call);
  const peer = call.getPeer();
  const cert = certIdentity(call);
  const pending = new Map<string, StreamCallCancellation>();
  let open = true;
  const finish = (): void => {
    if (!open) return;
    open = false;
    untrack();
    const cancelled = [...pending.values()];
    pending.clear();
    for (const c of cancelled) c.cancel();
  };
  const untrack = service.trackStream({
    end: () => {
      finish();
      call.end();
    },
  });
  const refuse = (callId: string, method: string, status: CallStatus): void => {
    service.countCall(method, GrpcCode[status.code] ?? 'UNKNOWN');
    call.write({ callId, error: callErrorOf(status) });
  };
  call.on('data', (msg: LockStreamRequest) => {
    if (!open) return;
    const callId = msg.callId ?? '0';
    if (msg.op === 'cancel') {
      const c = pending.get(callId);
      pending.delete(callId);
      c?.cancel();
      return;
    }
    const field = msg.op === 'acquire' || msg.op === 'release' || msg.op === 'setValue' ? msg.op : undefined;
    if (field === undefined) {
      refuse(callId, 'Locks.Stream', callStatus(invalidArgument('op', 'a LockStreamRequest needs one of acquire, release, set_value or cancel')));
      return;
    }
    const op = ops[field];
    if (pending.has(callId)) {
      refuse(callId, op.method, callStatus(invalidArgument('call_id', `call ${callId} is already pending on this stream; each pending call needs its own call_id`)));
      return;
    }
    if (pending.size >= MAX_PENDING_PER_LOCK_STREAM) {
      // No Latch code names this limit of the stream itself: the status carries an empty latch_code.
      const message = `this stream already has ${pending.size} pending calls (max ${MAX_PENDING_PER_LOCK_STREAM} per stream); wait for answers or open another stream`;
      refuse(callId, op.method, { code: GrpcCode.RESOURCE_EXHAUSTED, message, latchCode: '' });
      return;
    }
    const cancellation = new StreamCallCancellation();
    pending.set(callId, cancellation);
    void run(op, msg[field], auth, { peer, cancellation, ...(cert ? { certIdentity: cert } : {}) }).then((o) => {
      // A cancelled call is abandoned, like a unary call whose client went away: no answer.
      if (pending.get(callId) !== cancellation) return;
      pending.delete(callId);
      if (open) call.write(o.ok ? { callId, [field]: o.res } : { callId, error: callErrorOf(o.status) });
    });
  });
  call.on('end', () => {
    const wasOpen = open;
    finish();
    if (wasOpen) call.end();
  });
  call.on('cancelled', finish);
  call.on('error', finish);
}

interface KeepAliveBatchRequest {
  readonly requests?: readonly { readonly sessionId?: string; readonly nonce?: string }[];
}

/** The errors that say one session is gone: on a batch they become that session's `expired: true` answer, not the stream's end. */
function sessionGone(err: unknown): boolean {
  return err instanceof LatchError && (err.code === 'SESSION_EXPIRED' || err.code === 'SESSION_NOT_FOUND');
}

/**
 * Serves one Sessions.KeepAliveBatch (proto/latch.proto, KeepAliveBatchRequest), authorized at its
 * opening as KeepAlive is. Every request runs through `service.keepAlive`, the code KeepAlive runs;
 * the answers that resolve in one turn of the event loop are written as one KeepAliveBatchResponse
 * on the next (setImmediate), so a request waiting for a RenewSession commit goes out in a later
 * batch. A session that is gone (SESSION_EXPIRED / SESSION_NOT_FOUND from its RenewSession) gets
 * `expired: true`, which is what the client does with that error on KeepAlive; any other failure
 * (a malformed id, NOT_LEADER, LEADERSHIP_LOST, …) ends the stream with its status, as it ends a
 * KeepAlive stream. The end of the stream, or the server's shutdown, drops unsent answers.
 */
function serveKeepAliveBatch(call: ServerDuplexStream<KeepAliveBatchRequest, unknown>, service: LatchService, log: Logger, identity: string | undefined): void {
  let open = true;
  let ready: KeepAliveAnswer[] = [];
  let flushQueued = false;
  const finish = (): boolean => {
    if (!open) return false;
    open = false;
    ready = [];
    untrack();
    return true;
  };
  const untrack = service.trackKeepAliveStream('KeepAliveBatch', {
    end: () => {
      if (finish()) call.end();
    },
  });
  const fail = (err: unknown): void => {
    if (finish()) call.emit('error', toServiceError(err));
  };
  const flush = (): void => {
    flushQueued = false;
    if (!open) return;
    const out = ready;
    ready = [];
    try {
      for (let i = 0; i < out.length; i += MAX_KEEPALIVE_BATCH) call.write({ responses: out.slice(i, i + MAX_KEEPALIVE_BATCH) });
    } catch (err) {
      log.warn({ err }, 'keepalive batch write failed; ending the stream');
      fail(err);
    }
  };
  const answer = (res: KeepAliveAnswer): void => {
    if (!open) return;
    ready.push(res);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };
  call.on('data', (msg: KeepAliveBatchRequest) => {
    if (!open) return;
    const reqs = msg.requests ?? [];
    if (reqs.length > MAX_KEEPALIVE_BATCH) {
      fail(invalidArgument('requests', `a KeepAliveBatchRequest carries at most ${MAX_KEEPALIVE_BATCH} requests, got ${reqs.length}; split it`));
      return;
    }
    for (const req of reqs) {
      service.keepAlive(req, identity).then(answer, (err: unknown) => {
        if (sessionGone(err)) answer({ sessionId: String(wireId('session_id', req.sessionId)), nonce: req.nonce ?? '0', ttlMs: 0, expired: true });
        else fail(err);
      });
    }
  });
  call.on('end', () => {
    if (finish()) call.end();
  });
  call.on('cancelled', finish);
  call.on('error', finish);
  call.on('close', finish);
}

/** Starts the client gRPC server on host:port. */
export async function startClientServer(service: LatchService, listen: string, logger: Logger, opts: ClientServerOptions = {}): Promise<Server> {
  const log = logger.child({ component: 'client-api' });
  const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
  const v1 = pkg.latch.v1;
  const svc = (name: string) => (v1[name] as ServiceClientConstructor).service;
  const server = new Server({
    'grpc.max_receive_message_length': MAX_CLIENT_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  });
  const run: Run = (op, req, auth, ctx) => runCall(service, log, opts.authorize, op, req, auth, ctx);
  const u = (method: string, fn: Handler) => unary({ method, fn }, run);
  /** A stream handler behind the same check (on the opening request and metadata), as `access` when given. */
  const guard =
    <C extends ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>>(method: string, fn: (call: C, identity: string | undefined) => void, access = method) =>
    (call: C): void => {
      let identity: string | undefined;
      try {
        identity = opts.authorize?.(access, authorization(call), 'request' in call ? call.request : undefined) ?? certIdentity(call);
      } catch (err) {
        const se = toServiceError(err);
        service.countCall(method, GrpcCode[se.code ?? GrpcCode.UNKNOWN] ?? 'UNKNOWN');
        call.emit('error', se);
        return;
      }
      fn(call, identity);
    };

  // The lock operations, shared by their unary calls and Locks.Stream.
  const lockOps: LockOps = {
    acquire: { method: 'Locks.Acquire', fn: (req, ctx) => service.acquire(req, ctx.cancellation, ctx.identity) },
    release: { method: 'Locks.Release', fn: (req, ctx) => service.release(req, ctx.identity) },
    setValue: { method: 'Locks.SetValue', fn: (req, ctx) => service.setValue(req, ctx.identity) },
  };

  server.addService(svc('Cluster'), {
    status: u('Cluster.Status', () => service.clusterStatus()),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Sessions'), {
    open: u('Sessions.Open', (req, ctx) => service.openSession(req, ctx.peer, ctx.identity)),
    close: u('Sessions.Close', (req, ctx) => service.closeSession(req, ctx.identity)),
    list: u('Sessions.List', () => service.listSessions()),
    keepAlive: guard('Sessions.KeepAlive', (call: ServerDuplexStream<unknown, unknown>, identity) => service.keepAliveStream(call, identity)),
    // The same access as KeepAlive, checked once at the opening as for KeepAlive.
    keepAliveBatch: guard('Sessions.KeepAliveBatch', (call: ServerDuplexStream<KeepAliveBatchRequest, unknown>, identity) => serveKeepAliveBatch(call, service, log, identity), 'Sessions.KeepAlive'),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Locks'), {
    acquire: unary(lockOps.acquire, run),
    release: unary(lockOps.release, run),
    setValue: unary(lockOps.setValue, run),
    get: u('Locks.Get', (req) => service.getLock(req)),
    list: u('Locks.List', (req) => service.listLocks(req)),
    checkSequencer: u('Locks.CheckSequencer', (req) => service.checkSequencer(req)),
    // Authorized per operation (with the stream's metadata), not at the opening.
    stream: (call: ServerDuplexStream<LockStreamRequest, unknown>) => serveLockStream(call, lockOps, run, service),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Elections'), {
    campaign: u('Elections.Campaign', (req, ctx) => service.campaign(req, ctx.cancellation, ctx.identity)),
    proclaim: u('Elections.Proclaim', (req, ctx) => service.proclaim(req, ctx.identity)),
    resign: u('Elections.Resign', (req, ctx) => service.resign(req, ctx.identity)),
    leader: u('Elections.Leader', (req) => service.electionLeader(req)),
    observe: guard('Elections.Observe', (call: ServerWritableStream<unknown, unknown>) => service.observeStream(call)),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Watch'), {
    watch: guard('Watch.Watch', (call: ServerWritableStream<unknown, unknown>) => service.watchStream(call)),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Admin'), {
    memberList: u('Admin.MemberList', () => service.memberList()),
    memberAdd: u('Admin.MemberAdd', (req) => service.memberAdd(req)),
    memberPromote: u('Admin.MemberPromote', (req) => service.memberPromote(req)),
    memberRemove: u('Admin.MemberRemove', (req) => service.memberRemove(req)),
    snapshotSave: guard('Admin.SnapshotSave', (call: ServerWritableStream<unknown, unknown>) => service.snapshotSaveStream(call)),
  } satisfies UntypedServiceImplementation);

  await new Promise<void>((resolve, reject) =>
    server.bindAsync(listen, opts.credentials ?? ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
