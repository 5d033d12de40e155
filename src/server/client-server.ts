/**
 * The client-facing gRPC server (proto/latch.proto): registers every service, turns each handler's
 * thrown LatchError into its gRPC status (grpc-errors.ts), and counts calls by method and code.
 */
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
import type { Logger } from '../common/logger.js';
import { loadProto } from '../common/proto.js';
import { toServiceError } from './grpc-errors.js';
import type { LatchService } from './latch-service.js';

/** Max bytes of one client request (names ≤ 256 B, values ≤ 4 KiB: this leaves ample room). */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

type Unary = (req: never, peer: string, call: ServerUnaryCall<unknown, unknown>) => Promise<unknown>;

/** Checks one call before it runs; throws UNAUTHENTICATED / PERMISSION_DENIED (a LatchError). */
export type Authorize = (method: string, authorization: string | undefined, req: unknown) => void;

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

function unary(service: LatchService, method: string, fn: Unary, log: Logger, authorize?: Authorize) {
  return (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>): void => {
    Promise.resolve()
      .then(() => {
        authorize?.(method, authorization(call), call.request);
        return fn(call.request as never, call.getPeer(), call);
      })
      .then(
      (res) => {
        service.countCall(method, 'OK');
        cb(null, res);
      },
      (err: unknown) => {
        const se = toServiceError(err);
        service.countCall(method, GrpcCode[se.code ?? GrpcCode.UNKNOWN] ?? 'UNKNOWN');
        if (se.code === GrpcCode.INTERNAL) log.error({ err, method }, 'request failed');
        cb(se, null);
      },
    );
  };
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
  const u = (method: string, fn: Unary) => unary(service, method, fn, log, opts.authorize);
  /** A stream handler behind the same check (on the opening request and metadata). */
  const guard =
    <C extends ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>>(method: string, fn: (call: C) => void) =>
    (call: C): void => {
      try {
        opts.authorize?.(method, authorization(call), 'request' in call ? call.request : undefined);
      } catch (err) {
        const se = toServiceError(err);
        service.countCall(method, GrpcCode[se.code ?? GrpcCode.UNKNOWN] ?? 'UNKNOWN');
        call.emit('error', se);
        return;
      }
      fn(call);
    };

  server.addService(svc('Cluster'), {
    status: u('Cluster.Status', () => service.clusterStatus()),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Sessions'), {
    open: u('Sessions.Open', (req, peer) => service.openSession(req, peer)),
    close: u('Sessions.Close', (req) => service.closeSession(req)),
    list: u('Sessions.List', () => service.listSessions()),
    keepAlive: guard('Sessions.KeepAlive', (call: ServerDuplexStream<unknown, unknown>) => service.keepAliveStream(call)),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Locks'), {
    acquire: u('Locks.Acquire', (req, _peer, call) => service.acquire(req, call)),
    release: u('Locks.Release', (req) => service.release(req)),
    setValue: u('Locks.SetValue', (req) => service.setValue(req)),
    get: u('Locks.Get', (req) => service.getLock(req)),
    list: u('Locks.List', (req) => service.listLocks(req)),
    checkSequencer: u('Locks.CheckSequencer', (req) => service.checkSequencer(req)),
  } satisfies UntypedServiceImplementation);

  server.addService(svc('Elections'), {
    campaign: u('Elections.Campaign', (req, _peer, call) => service.campaign(req, call)),
    proclaim: u('Elections.Proclaim', (req) => service.proclaim(req)),
    resign: u('Elections.Resign', (req) => service.resign(req)),
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
