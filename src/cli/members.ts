/**
 * `latch members list | add ID PEER_ADDR CLIENT_ADDR [--learner] | promote ID | remove ID`, and the
 * small Admin-service client they share with `latch snapshot save`: it finds the leader through
 * Cluster.Status and follows `latch-leader` hints (TLS from LATCH_CA/CERT/KEY, token from LATCH_AUTH_TOKEN).
 */
import { Metadata, type Client, type ClientReadableStream, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../client/index.js';
import { LatchError, isLatchError, type ErrorCode, ERROR_CODES } from '../common/errors.js';
import { isNodeId } from '../common/ids.js';
import { loadProto } from '../common/proto.js';
import { formatInitialCluster, isHostPort } from '../node/members.js';
import { channelCredentials, tlsFromEnv } from '../server/tls.js';
import { EXIT, resolveEndpoints, runCommand, type ClientCommandOptions } from './commands/cli-support.js';
import { parseDuration } from './commands/duration.js';
import { table } from './commands/lists.js';

/** One member as MemberList reports it. */
export interface WireMemberStatus {
  id: string;
  peerAddress: string;
  clientAddress: string;
  learner: boolean;
  leader: boolean;
  hasProgress: boolean;
  matchIndex: string;
  replicationState: string;
}

/** MemberList's answer. */
export interface WireMemberList {
  clusterId: string;
  leader: string;
  commitIndex: string;
  lastIndex: string;
  members: WireMemberStatus[];
}

type Cb = (err: ServiceError | null, res?: unknown) => void;
type UnaryFn = (req: object, md: Metadata, opts: { deadline: number }, cb: Cb) => void;

function fromServiceError(err: ServiceError): Error & { leader?: string } {
  const code = err.metadata?.get('latch-code')[0];
  const leader = err.metadata?.get('latch-leader')[0];
  const e: Error & { leader?: string } =
    typeof code === 'string' && code in ERROR_CODES ? new LatchError(code as ErrorCode, err.details) : new Error(`${err.details || err.message} (gRPC ${err.code})`);
  if (typeof leader === 'string' && leader) e.leader = leader;
  return e;
}

/** Calls the Admin service on the leader. */
export class AdminClient {
  private readonly clients = new Map<string, Client>();
  private readonly creds = channelCredentials(tlsFromEnv());
  private readonly token = process.env.LATCH_AUTH_TOKEN;
  private leaderHint: string | undefined;

  constructor(private readonly endpoints: readonly string[]) {}

  private client(service: 'Admin' | 'Cluster', endpoint: string): Client {
    const key = `${service}@${endpoint}`;
    let c = this.clients.get(key);
    if (!c) {
      const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
      c = new (pkg.latch.v1[service] as ServiceClientConstructor)(endpoint, this.creds);
      this.clients.set(key, c);
    }
    return c;
  }

  private metadata(): Metadata {
    const md = new Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  private unaryAt<T>(service: 'Admin' | 'Cluster', endpoint: string, method: string, req: object, timeoutMs: number): Promise<T> {
    const c = this.client(service, endpoint) as unknown as Record<string, UnaryFn>;
    return new Promise<T>((resolve, reject) =>
      c[method]!.call(c, req, this.metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(fromServiceError(err)) : resolve(res as T))),
    );
  }

  /** The leader's client address, asking each endpoint's Cluster.Status (auth errors are thrown at once). */
  async findLeader(deadline: number): Promise<string> {
    for (;;) {
      if (this.leaderHint) return this.leaderHint;
      let lastErr: unknown;
      for (const ep of this.endpoints) {
        try {
          const st = await this.unaryAt<{ role: string; leaderClientAddress: string }>('Cluster', ep, 'status', {}, 2_000);
          if (st.role === 'leader') return (this.leaderHint = ep);
          if (st.leaderClientAddress) return (this.leaderHint = st.leaderClientAddress);
        } catch (err) {
          if (isLatchError(err, 'UNAUTHENTICATED') || isLatchError(err, 'PERMISSION_DENIED')) throw err;
          lastErr = err;
        }
      }
      if (Date.now() > deadline) throw new LatchError('NO_QUORUM', `no leader found at ${this.endpoints.join(', ')}${lastErr instanceof Error ? ` (${lastErr.message})` : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A unary Admin call on the leader; follows NOT_LEADER hints until `timeoutMs` passes. */
  async call<T>(method: string, req: object, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.findLeader(deadline);
      try {
        return await this.unaryAt<T>('Admin', leader, method, req, Math.max(1_000, deadline - Date.now()));
      } catch (err) {
        const hint = (err as { leader?: string }).leader;
        const retry = isLatchError(err, 'NOT_LEADER') || isLatchError(err, 'NO_QUORUM') || !isLatchError(err);
        this.leaderHint = hint && hint !== leader ? hint : undefined;
        if (!retry || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** A server-streaming Admin call on the leader (no retry once data flowed). */
  async stream(method: string, req: object, onData: (msg: unknown) => void, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.findLeader(deadline);
      let got = false;
      try {
        await new Promise<void>((resolve, reject) => {
          const c = this.client('Admin', leader) as unknown as Record<string, (req: object, md: Metadata) => ClientReadableStream<unknown>>;
          const call = c[method]!.call(c, req, this.metadata());
          call.on('data', (m: unknown) => {
            got = true;
            try {
              onData(m);
            } catch (err) {
              call.cancel();
              reject(err);
            }
          });
          call.on('error', (e: ServiceError) => reject(fromServiceError(e)));
          call.on('end', () => resolve());
        });
        return;
      } catch (err) {
        const hint = (err as { leader?: string }).leader;
        this.leaderHint = hint && hint !== leader ? hint : undefined;
        if (got || !(isLatchError(err, 'NOT_LEADER') || isLatchError(err, 'NO_QUORUM')) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Closes every channel. */
  close(): void {
    for (const c of this.clients.values()) c.getChannel().close();
    this.clients.clear();
  }
}

/** `latch members list` output for people: role, addresses, and lag behind the leader's log. */
export function formatMembers(list: WireMemberList): string {
  const last = Number(list.lastIndex);
  const rows = list.members.map((m) => [
    m.id,
    m.leader ? 'leader' : m.learner ? 'learner' : 'voter',
    m.peerAddress,
    m.clientAddress,
    m.hasProgress ? m.matchIndex : '-',
    m.hasProgress ? String(Math.max(0, last - Number(m.matchIndex))) : '-',
  ]);
  return `${table(['ID', 'ROLE', 'PEER', 'CLIENT', 'MATCH', 'LAG'], rows)}\ncluster ${list.clusterId}, leader ${list.leader || 'none'}, commit ${list.commitIndex}`;
}

function checkId(id: string): string {
  if (!isNodeId(id)) throw new InvalidArgumentError(`"${id}" is not a node id (1-64 of A-Z a-z 0-9 _ -)`);
  return id;
}

/** Promotes `id`, retrying while it catches up (PROPOSAL_DROPPED) or another change commits. */
export async function promoteWhenCaughtUp(admin: AdminClient, id: string, timeoutMs: number): Promise<WireMemberList> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await admin.call<WireMemberList>('memberPromote', { id }, Math.max(1_000, deadline - Date.now()));
    } catch (err) {
      const waiting = isLatchError(err, 'PROPOSAL_DROPPED') || isLatchError(err, 'CONF_CHANGE_IN_PROGRESS');
      if (!waiting || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

interface MembersOptions extends ClientCommandOptions {
  readonly learner?: boolean;
  readonly timeout?: string;
}

/** Registers `latch members`. */
export function registerMembersCommand(program: Command): void {
  const members = program.command('members').description('list and change the cluster membership (needs the admin permission)');
  const common = (c: Command): Command =>
    c.option('--endpoints <list>', 'comma-separated client endpoints (default LATCH_ENDPOINTS or 127.0.0.1:7001-7003)').option('--json', 'print JSON');
  const withAdmin = (opts: ClientCommandOptions, body: (admin: AdminClient) => Promise<number>): Promise<void> =>
    runCommand(async () => {
      const admin = new AdminClient(resolveEndpoints(opts.endpoints));
      try {
        return await body(admin);
      } finally {
        admin.close();
      }
    });
  const print = (opts: ClientCommandOptions, list: WireMemberList, text: string): void => {
    process.stdout.write(opts.json ? `${JSON.stringify(list)}\n` : `${text}\n`);
  };

  common(members.command('list').description('members, their roles and lag (as the leader sees it)')).action((opts: MembersOptions) =>
    withAdmin(opts, async (admin) => {
      const list = await admin.call<WireMemberList>('memberList', {});
      print(opts, list, formatMembers(list));
      return EXIT.OK;
    }),
  );

  common(
    members
      .command('add')
      .description('add a member as a learner, then (unless --learner) promote it once it has caught up')
      .argument('<id>', 'the new node id')
      .argument('<peer-addr>', 'host:port other nodes dial for Raft traffic')
      .argument('<client-addr>', 'host:port clients dial')
      .option('--learner', 'stop after adding it as a learner (promote it later)')
      .option('--timeout <duration>', 'how long to wait for it to catch up before promoting', '5m'),
  ).action((id: string, peer: string, clientAddr: string, opts: MembersOptions) =>
    withAdmin(opts, async (admin) => {
      checkId(id);
      if (!isHostPort(peer)) throw new InvalidArgumentError(`peer address "${peer}" is not host:port`);
      if (!isHostPort(clientAddr)) throw new InvalidArgumentError(`client address "${clientAddr}" is not host:port`);
      const timeoutMs = parseDuration(opts.timeout ?? '5m', '--timeout');
      const list = await admin.call<WireMemberList>('memberAdd', { id, peerAddress: peer, clientAddress: clientAddr });
      const initial = formatInitialCluster(list.members.map((m) => ({ id: m.id, peerAddress: m.peerAddress, clientAddress: m.clientAddress })));
      if (opts.json) process.stdout.write(`${JSON.stringify({ added: id, clusterId: list.clusterId, join: list.clusterId, initialCluster: initial })}\n`);
      else {
        process.stdout.write(`added ${id} as a learner of cluster ${list.clusterId}; start it with an empty data dir and:\n`);
        process.stdout.write(`  latch server --id ${id} --join ${list.clusterId} --initial-cluster ${initial} --listen-peer <host:port> --listen-client <host:port> --data-dir <dir>\n`);
      }
      if (opts.learner) return EXIT.OK;
      if (!opts.json) process.stdout.write(`waiting up to ${opts.timeout ?? '5m'} for ${id} to catch up, then promoting it\n`);
      const after = await promoteWhenCaughtUp(admin, id, timeoutMs);
      if (!opts.json) print(opts, after, `promoted ${id} to voter\n${formatMembers(after)}`);
      return EXIT.OK;
    }),
  );

  common(
    members
      .command('promote')
      .description('make a learner a voter, once it has caught up')
      .argument('<id>', 'the learner')
      .option('--timeout <duration>', 'how long to wait for it to catch up', '5m'),
  ).action((id: string, opts: MembersOptions) =>
    withAdmin(opts, async (admin) => {
      const list = await promoteWhenCaughtUp(admin, checkId(id), parseDuration(opts.timeout ?? '5m', '--timeout'));
      print(opts, list, `promoted ${id} to voter\n${formatMembers(list)}`);
      return EXIT.OK;
    }),
  );

  common(members.command('remove').description('remove a member (stop its process afterwards)').argument('<id>', 'the member')).action((id: string, opts: MembersOptions) =>
    withAdmin(opts, async (admin) => {
      const list = await admin.call<WireMemberList>('memberRemove', { id: checkId(id) });
      print(opts, list, `removed ${id}\n${formatMembers(list)}`);
      return EXIT.OK;
    }),
  );
}
