/**
 * The composition root of `latch server`: storage, transport, Raft node, lock state machine,
 * client gRPC API and HTTP endpoint, wired together; signals handled; fatal errors stop the process.
 */
import { join } from 'node:path';
import { createLogger, type Logger } from '../common/logger.js';
import type { ApplyOutput } from '../lock/index.js';
import { RaftNode } from '../node/raft-node.js';
import { openRaftStorage } from '../storage/index.js';
import { GrpcTransport } from '../transport/index.js';
import type { ServerConfig } from './config.js';
import { startHttpServer, type MemberStatusJson } from './http-server.js';
import { LatchService } from './latch-service.js';
import { startClientServer } from './client-server.js';
import { StatusPage } from './status-page.js';
import { Authorizer, checkHttpRequest, readTokenFile, requiredAccess } from './auth.js';
import { channelCredentials, loadTlsMaterial, serverCredentials } from './tls.js';

/** A running server, for in-process use and for `runServer`. */
export interface RunningServer {
  readonly node: RaftNode<ApplyOutput>;
  readonly service: LatchService;
  /** Stops everything; with `transfer` a leader first hands leadership to a caught-up follower. */
  stop(opts?: { transfer?: boolean }): Promise<void>;
  /** Re-reads the token file (SIGHUP); a bad file is logged and the previous one kept. Returns true when replaced. */
  reloadTokens(): boolean;
}

/** Starts every part of one node and resolves once it is listening. */
export async function startServer(config: ServerConfig, logger: Logger = createLogger({ level: config.logLevel, node: config.id })): Promise<RunningServer> {
  // Read TLS and tokens first: a bad file stops the node before it opens anything.
  const tls = config.tls ? loadTlsMaterial(config.tls) : null;
  const authorizer = config.tokenFile ? new Authorizer(readTokenFile(config.tokenFile)) : null;
  if (!tls) logger.warn({ client: config.listenClient, peer: config.listenPeer, insecure: config.insecure }, 'TLS is off: client and peer traffic is plain text');
  if (!authorizer) logger.warn('no --token-file: client calls are not authenticated');
  // A new data dir gets the segment log; one an older version wrote keeps LevelStorage.
  const storage = openRaftStorage(join(config.dataDir, 'raft'));
  const service = new LatchService(config, logger);
  const node = new RaftNode({
    id: config.id,
    initialCluster: config.initialCluster,
    clusterToken: config.clusterToken,
    ...(config.join ? { join: config.join } : {}),
    storage: service.metrics.instrumentStorage(storage),
    transport: (clusterId, members) =>
      new GrpcTransport({
        clusterId,
        nodeId: config.id,
        listen: config.listenPeer,
        peers: members.filter((m) => m.id !== config.id).map((m) => ({ id: m.id, address: m.peerAddress })),
        snapshotSource: () => storage.readSnapshot(),
        logger,
        ...(tls ? { credentials: { server: serverCredentials(tls), channel: channelCredentials(tls) } } : {}),
      }),
    stateMachine: service.stateMachine,
    heartbeatMs: config.heartbeatMs,
    electionTimeoutMs: config.electionTimeoutMs,
    snapshotThreshold: config.snapshotThreshold,
    logger,
  });
  service.attach(node);
  const page = new StatusPage({ nodeStatus: () => node.status(), sm: () => service.stateMachine.sm, sessionTimeLeft: (id) => service.sessionTimeLeft(id) });
  service.onLockEvent((e) => page.recordLockEvent(e));
  node.on((e) => {
    if (e.type === 'role') page.recordNodeEvent('role', `${e.soft.role}; leader ${e.soft.leader ?? 'unknown'}; term ${e.term}`);
    else if (e.type === 'restored') page.recordNodeEvent('snapshot', `restored a snapshot at index ${e.index}`);
  });
  await node.start();
  const grpcServer = await startClientServer(service, config.listenClient, logger, {
    credentials: serverCredentials(tls),
    ...(authorizer ? { authorize: (method: string, header: string | undefined, req: unknown) => `token:${authorizer.check(header, requiredAccess(method, req))}` } : {}),
  });
  const status = (): MemberStatusJson => {
    const st = node.status();
    return {
      id: st.id,
      role: st.role,
      term: st.term,
      commitIndex: st.commit,
      appliedIndex: st.applied,
      clientAddress: config.initialCluster.find((m) => m.id === config.id)?.clientAddress || config.listenClient,
      leader: st.leader,
      snapshotIndex: st.snapshotIndex,
    };
  };
  const http = await startHttpServer({
    listen: config.listenHttp,
    status,
    healthy: () => node.leader !== null,
    routes: [...service.httpRoutes(), page.route()],
    // The same Authorizer as the client API, so a SIGHUP reload applies here too; public paths pass.
    ...(authorizer ? { authorize: (header: string | undefined, path: string) => checkHttpRequest(authorizer, header, path) } : {}),
    logger,
  });
  logger.info({ client: config.listenClient, peer: config.listenPeer, http: config.listenHttp }, 'latch server listening');
  let stopping: Promise<void> | undefined;
  return {
    node,
    service,
    reloadTokens: () => {
      if (!authorizer || !config.tokenFile) return false;
      try {
        const file = readTokenFile(config.tokenFile);
        authorizer.replace(file);
        logger.info({ tokens: file.tokens.size, roles: file.roles.size }, 'token file reloaded');
        return true;
      } catch (err) {
        logger.error({ err }, 'token file reload failed; keeping the previous tokens');
        return false;
      }
    },
    stop: (opts = {}) =>
      (stopping ??= (async () => {
        if (opts.transfer && node.isLeader) {
          const moved = await node.handOffLeadership().catch(() => false);
          logger.info({ moved }, 'leadership hand-off before shutdown');
        }
        service.close();
        grpcServer.forceShutdown();
        http.closeAllConnections();
        await new Promise<void>((r) => http.close(() => r()));
        await node.stop();
      })()),
  };
}

/** Runs a server until SIGTERM/SIGINT (graceful, with leadership hand-off) or a fatal error (exit 1). */
export async function runServer(config: ServerConfig): Promise<void> {
  const logger = createLogger({ level: config.logLevel, node: config.id });
  const server = await startServer(config, logger);
  server.node.on((e) => {
    if (e.type === 'fatal') {
      logger.fatal({ err: e.error }, 'fatal error; exiting so the node restarts from durable state');
      logger.flush();
      setTimeout(() => process.exit(1), 50);
    }
  });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string): void => {
      // A second signal (a process group and a launcher both signalling) must not cut the graceful stop short.
      if (stopping) return;
      stopping = true;
      logger.info({ signal: sig }, 'shutting down');
      void server.stop({ transfer: true }).finally(() => {
        logger.flush();
        resolve();
      });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGHUP', () => {
      logger.info({ signal: 'SIGHUP' }, 'reloading the token file');
      server.reloadTokens();
    });
  });
}
