/** `latch status`: asks every endpoint for its view and prints the members and the leader. */
import { Metadata, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadProto } from '../common/proto.js';
import { channelCredentials, tlsFromEnv } from '../server/tls.js';

/** One row of `latch status --json`. */
export interface StatusRow {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly clientAddress: string;
  readonly leader?: string;
  readonly error?: string;
}

interface StatusResponse {
  id: string;
  role: string;
  term: string;
  commitIndex: string;
  appliedIndex: string;
  leader: string;
  clientAddress: string;
}

function clusterService(): ServiceClientConstructor {
  const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
  return pkg.latch.v1.Cluster as ServiceClientConstructor;
}

/** Queries one endpoint's Cluster.Status with a deadline. */
export async function queryStatus(endpoint: string, timeoutMs = 2000): Promise<StatusRow> {
  const Ctor = clusterService();
  const client = new Ctor(endpoint, channelCredentials(tlsFromEnv())) as unknown as Client & {
    status(req: object, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res?: StatusResponse) => void): void;
  };
  const md = new Metadata();
  if (process.env.LATCH_AUTH_TOKEN) md.set('authorization', `Bearer ${process.env.LATCH_AUTH_TOKEN}`);
  try {
    const res = await new Promise<StatusResponse>((resolve, reject) =>
      client.status({}, md, { deadline: Date.now() + timeoutMs }, (err, r) => (err || !r ? reject(err ?? new Error('empty response')) : resolve(r))),
    );
    return {
      id: res.id,
      role: res.role,
      term: Number(res.term),
      commitIndex: Number(res.commitIndex),
      appliedIndex: Number(res.appliedIndex),
      clientAddress: res.clientAddress || endpoint,
      ...(res.leader ? { leader: res.leader } : {}),
    };
  } catch (err) {
    const e = err as Partial<ServiceError>;
    return { id: '?', role: 'unreachable', term: 0, commitIndex: 0, appliedIndex: 0, clientAddress: endpoint, error: e.details ?? e.message ?? String(err) };
  } finally {
    client.close();
  }
}

/** Runs `latch status`; returns the exit code (1 when no endpoint answered). */
export async function runStatus(endpoints: readonly string[], json: boolean): Promise<number> {
  const rows = await Promise.all(endpoints.map((e) => queryStatus(e)));
  const leaderRow = rows.filter((r) => r.role === 'leader').sort((a, b) => b.term - a.term)[0];
  const leader = leaderRow?.id ?? null;
  if (json) {
    const members = rows.map(({ id, role, term, commitIndex, appliedIndex, clientAddress, error }) => ({
      id, role, term, commitIndex, appliedIndex, clientAddress, ...(error ? { error } : {}),
    }));
    process.stdout.write(`${JSON.stringify({ leader, members })}\n`);
  } else {
    const header = ['ID', 'ADDRESS', 'ROLE', 'TERM', 'COMMIT', 'APPLIED'];
    const table = rows.map((r) => [r.id, r.clientAddress, r.error ? `unreachable (${r.error})` : r.role, String(r.term), String(r.commitIndex), String(r.appliedIndex)]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    for (const row of [header, ...table]) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
    process.stdout.write(leader ? `leader: ${leader}\n` : 'leader: none (no quorum, or no endpoint reachable)\n');
  }
  return rows.every((r) => r.error) ? 1 : 0;
}
