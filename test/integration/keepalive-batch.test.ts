/**
 * Sessions.KeepAliveBatch (issue 6, sessions target).
 *
 * Against a real 3-node cluster with bearer tokens: a raw batch with live, unknown and closed
 * sessions gets one answer per session (expired: true for the gone ones) in one response and the
 * stream stays open; the keepalive counter counts sessions, not batches; more than 4096 requests,
 * a malformed id, a follower (NOT_LEADER with the hint) and a missing token end the stream with
 * the same status KeepAlive would. Then the SDK: a few hundred sessions on one client use exactly
 * one KeepAliveBatch stream at the leader (none elsewhere, no per-session streams), the servers
 * count about sessions × 3 / TTL keepalives a second, and every session survives a leader SIGKILL.
 *
 * Against a stub service behind the real client gRPC server: answers that resolve together travel
 * together and one that resolves later comes in a later batch; a session error
 * (SESSION_EXPIRED from a RenewSession) becomes that session's `expired: true`; other errors end
 * the stream; server shutdown ends it; the stream gauge follows the stream.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, type ClientDuplexStream, type GrpcObject, type Server, type ServiceClientConstructor } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient, type Session } from '../../src/client/index.js';
import { LatchError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/logger.js';
import { loadProto } from '../../src/common/proto.js';
import { hashToken } from '../../src/server/auth.js';
import { startClientServer } from '../../src/server/client-server.js';
import type { KeepAliveAnswer, LatchService } from '../../src/server/latch-service.js';
import { freeBasePort, startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';

const ROOT = 'ops-secret';
const INVALID_ARGUMENT = 3;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

interface KaReq {
  readonly sessionId: string;
  readonly nonce: string;
}
interface KaRes extends KaReq {
  readonly ttlMs: number;
  readonly expired: boolean;
}

const grpcClients: Client[] = [];
const rawStreams: BatchStream[] = [];

function md(token: string | null): Metadata {
  const m = new Metadata();
  if (token !== null) m.set('authorization', `Bearer ${token}`);
  return m;
}

function sessionsClient(endpoint: string): Client {
  const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
  const c = new (pkg.latch.v1['Sessions'] as ServiceClientConstructor)(endpoint, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  grpcClients.push(c);
  return c;
}

/** A raw Sessions.KeepAliveBatch stream: send batches, await response messages and the status. */
class BatchStream {
  readonly messages: KaRes[][] = [];
  status: { code: number; details: string; latchCode: string; leader: string } | undefined;
  private readonly call: ClientDuplexStream<object, { responses: KaRes[] }>;

  constructor(endpoint: string, token: string | null = ROOT) {
    const c = sessionsClient(endpoint) as unknown as { keepAliveBatch(m: Metadata): ClientDuplexStream<object, { responses: KaRes[] }> };
    this.call = c.keepAliveBatch(md(token));
    this.call.on('data', (m: { responses: KaRes[] }) => this.messages.push(m.responses));
    this.call.on('status', (st: { code: number; details: string; metadata: Metadata }) => {
      const s = (k: string): string => String(st.metadata.get(k)[0] ?? '');
      this.status = { code: st.code, details: st.details, latchCode: s('latch-code'), leader: s('latch-leader') };
    });
    this.call.on('error', () => undefined);
    rawStreams.push(this);
  }

  send(requests: readonly KaReq[]): void {
    this.call.write({ requests });
  }

  /** Waits until `n` response messages arrived. */
  async received(n: number): Promise<KaRes[][]> {
    await waitFor(() => this.messages.length >= n || (this.status !== undefined && this.status.code !== 0 && Promise.reject(new Error(`stream ended: ${this.status.details}`))), 15_000, `${n} keepalive batch responses`);
    return this.messages.slice(0, n);
  }

  async ended(): Promise<NonNullable<BatchStream['status']>> {
    return waitFor(() => this.status, 15_000, 'the stream to end');
  }

  cancel(): void {
    this.call.cancel();
  }
}

async function metrics(httpAddress: string): Promise<string> {
  return (await fetch(`http://${httpAddress}/metrics`, { headers: { authorization: `Bearer ${ROOT}` } })).text();
}

function series(text: string, name: string, labels = ''): number {
  const m = new RegExp(`^${name}${labels.replace(/[{}.]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('Sessions.KeepAliveBatch on a real cluster', () => {
  let cluster: TestCluster;
  let dir: string;
  const sdkClients: LatchClient[] = [];

  const node = (id: string) => cluster.nodes.find((n) => n.id === id)!;
  const leaderNode = async () => node(await cluster.leader());

  async function openSession(endpoint: string, ttlMs = 60_000): Promise<string> {
    const c = sessionsClient(endpoint) as unknown as { open(r: object, m: Metadata, cb: (e: Error | null, v?: { sessionId: string }) => void): void };
    return new Promise((resolve, reject) => c.open({ ttlMs, client: 'keepalive-batch-test' }, md(ROOT), (e, v) => (e ? reject(e) : resolve(v!.sessionId))));
  }

  async function closeSession(endpoint: string, sessionId: string): Promise<void> {
    const c = sessionsClient(endpoint) as unknown as { close(r: object, m: Metadata, cb: (e: Error | null) => void): void };
    return new Promise((resolve, reject) => c.close({ sessionId, requestSeq: '1' }, md(ROOT), (e) => (e ? reject(e) : resolve())));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-keepalive-batch-'));
    const tokens = join(dir, 'tokens');
    writeFileSync(tokens, `ops:${hashToken(ROOT)}:root\n`);
    cluster = await startTestCluster({ nodes: 3, extraArgs: ['--token-file', tokens], httpToken: ROOT });
  });

  afterAll(async () => {
    try {
      await Promise.all(sdkClients.map((c) => c.close().catch(() => undefined)));
      for (const s of rawStreams) s.cancel();
      for (const c of grpcClients) c.getChannel().close();
    } finally {
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers every session of a batch, gone ones with expired: true, in one response, and keeps the stream open', async () => {
    const leader = await leaderNode();
    const a = await openSession(leader.clientAddress);
    const b = await openSession(leader.clientAddress);
    const closed = await openSession(leader.clientAddress);
    await closeSession(leader.clientAddress, closed);
    const s = new BatchStream(leader.clientAddress);
    try {
      // A new session's first keepalive waits for a RenewSession commit (the leader tracks it as
      // lapsed until then), so the first answers may come in any number of batches.
      s.send([
        { sessionId: a, nonce: '1' },
        { sessionId: b, nonce: '1' },
      ]);
      await waitFor(() => s.messages.flat().length >= 2, 15_000, 'the first two answers');
      expect(s.messages.flat().map((r) => [r.sessionId, r.expired]).sort()).toEqual([
        [a, false],
        [b, false],
      ].sort());
      const n = s.messages.length;
      const before = series(await metrics(leader.httpAddress), 'latch_keepalives_total');
      // Now every answer is ready at once: one response carries all four.
      s.send([
        { sessionId: a, nonce: '2' },
        { sessionId: '999999', nonce: '3' },
        { sessionId: b, nonce: '4' },
        { sessionId: closed, nonce: '5' },
      ]);
      const batch = (await s.received(n + 1))[n]!;
      expect(batch).toHaveLength(4);
      const bySession = new Map(batch.map((r) => [r.sessionId, r]));
      expect(bySession.get(a)).toEqual({ sessionId: a, nonce: '2', ttlMs: 60_000, expired: false });
      expect(bySession.get('999999')).toMatchObject({ nonce: '3', expired: true });
      expect(bySession.get(b)).toEqual({ sessionId: b, nonce: '4', ttlMs: 60_000, expired: false });
      expect(bySession.get(closed)).toMatchObject({ nonce: '5', expired: true });
      // The stream is still open: the next batch is answered too.
      s.send([{ sessionId: a, nonce: '6' }]);
      const next = (await s.received(n + 2))[n + 1];
      expect(next).toEqual([{ sessionId: a, nonce: '6', ttlMs: 60_000, expired: false }]);
      expect(s.status).toBeUndefined();
      // Counted per session answered (4 + 1), not per batch (2).
      expect(series(await metrics(leader.httpAddress), 'latch_keepalives_total') - before).toBe(5);
      expect(series(await metrics(leader.httpAddress), 'latch_keepalive_streams', '{rpc="KeepAliveBatch"}')).toBe(1);
    } finally {
      s.cancel();
    }
    await waitFor(async () => series(await metrics(leader.httpAddress), 'latch_keepalive_streams', '{rpc="KeepAliveBatch"}') === 0, 10_000, 'the stream gauge to drop');
  });

  it('ends the stream like KeepAlive would: over 4096 requests, a malformed id, a follower, no token', async () => {
    const leader = await leaderNode();
    const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
    const a = await openSession(leader.clientAddress);

    const tooMany = new BatchStream(leader.clientAddress);
    tooMany.send(Array.from({ length: 4097 }, (_, i) => ({ sessionId: a, nonce: String(i + 1) })));
    const st1 = await tooMany.ended();
    expect(st1).toMatchObject({ code: INVALID_ARGUMENT, latchCode: 'INVALID_ARGUMENT' });
    expect(st1.details).toContain('4096');

    const malformed = new BatchStream(leader.clientAddress);
    malformed.send([{ sessionId: '0', nonce: '1' }]); // uint64 on the wire: 0 (missing) is the only malformed id
    expect(await malformed.ended()).toMatchObject({ code: INVALID_ARGUMENT, latchCode: 'INVALID_ARGUMENT' });

    const atFollower = new BatchStream(follower.clientAddress);
    atFollower.send([{ sessionId: a, nonce: '1' }]);
    expect(await atFollower.ended()).toMatchObject({ code: UNAVAILABLE, latchCode: 'NOT_LEADER', leader: leader.clientAddress });

    const noToken = new BatchStream(leader.clientAddress, null);
    noToken.send([{ sessionId: a, nonce: '1' }]);
    expect(await noToken.ended()).toMatchObject({ code: UNAUTHENTICATED, latchCode: 'UNAUTHENTICATED' });
    expect(noToken.messages).toEqual([]);
  });

  it('SDK: hundreds of sessions on one client share one stream, are counted per session, and survive a leader SIGKILL', async () => {
    const SESSIONS = 300;
    const TTL = 4_500; // keepalives every 1.5 s: 200 a second for 300 sessions
    const client = await LatchClient.connect({ endpoints: cluster.endpoints, token: ROOT, name: 'keepalive-batch-sdk' });
    sdkClients.push(client);
    const sessions: Session[] = [];
    for (let i = 0; i < SESSIONS; i += 25) sessions.push(...(await Promise.all(Array.from({ length: Math.min(25, SESSIONS - i) }, () => client.session({ ttlMs: TTL })))));
    const events: string[] = [];
    for (const s of sessions) for (const t of ['jeopardy', 'safe', 'expired'] as const) s.on(t, () => events.push(t));

    /** The keepalive stream gauges of every live node, by id. */
    const gauges = async (): Promise<Record<string, { batch: number; single: number }>> => {
      const out: Record<string, { batch: number; single: number }> = {};
      for (const n of cluster.nodes) {
        if (cluster.pid(n.id) === undefined) continue;
        const text = await metrics(n.httpAddress);
        out[n.id] = { batch: series(text, 'latch_keepalive_streams', '{rpc="KeepAliveBatch"}'), single: series(text, 'latch_keepalive_streams', '{rpc="KeepAlive"}') };
      }
      return out;
    };
    const oneStreamAt = (leaderId: string) => async () => {
      const g = await gauges();
      return Object.entries(g).every(([id, v]) => v.single === 0 && v.batch === (id === leaderId ? 1 : 0)) ? g : undefined;
    };
    const leader = await leaderNode();
    // Exactly one KeepAliveBatch stream, at the leader, for all 300 sessions.
    await waitFor(oneStreamAt(leader.id), 15_000, 'one KeepAliveBatch stream at the leader and none elsewhere');

    // The servers count about S × 3 / TTL keepalives a second (sessions, not batches: batches are ~100× fewer).
    const total = async () => {
      let sum = 0;
      for (const n of cluster.nodes) if (cluster.pid(n.id) !== undefined) sum += series(await metrics(n.httpAddress), 'latch_keepalives_total');
      return sum;
    };
    const k0 = await total();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 6_000));
    const k1 = await total();
    const rate = (k1 - k0) / ((performance.now() - t0) / 1000);
    const expected = (SESSIONS * 3) / (TTL / 1000);
    expect(rate).toBeGreaterThan(expected * 0.6);
    expect(rate).toBeLessThan(expected * 1.4);

    // SIGKILL the leader: every session moves to the new leader on one new stream and none expires.
    await cluster.kill(leader.id, 'SIGKILL');
    const next = await cluster.leader(30_000);
    expect(next).not.toBe(leader.id);
    await waitFor(oneStreamAt(next), 30_000, 'one KeepAliveBatch stream at the new leader');
    // A full keepalive round on the new leader: a TTL later, every session is still open there.
    await new Promise((r) => setTimeout(r, TTL));
    const listed = new Set((await client.sessions()).map((s) => s.sessionId));
    expect(sessions.filter((s) => !listed.has(s.id))).toEqual([]);
    expect(events.filter((e) => e === 'expired')).toEqual([]);
    expect(sessions.filter((s) => s.state !== 'safe').map((s) => `${s.id}: ${s.state}`)).toEqual([]);
    await Promise.all(sessions.map((s) => s.close()));
  });
});

describe('Sessions.KeepAliveBatch handler (stub service behind the real client server)', () => {
  let server: Server | undefined;
  const closers: (() => void)[] = [];

  afterAll(async () => {
    for (const c of closers) c();
    server?.forceShutdown();
  });

  it('batches answers ready together, sends late ones later, answers gone sessions expired: true, and ends on other errors and at shutdown', async () => {
    const late = new Map<string, (a: KeepAliveAnswer) => void>();
    let open = 0;
    const handles = new Set<{ end(): void }>();
    const keepAlive = (req: { sessionId?: string; nonce?: string }): Promise<KeepAliveAnswer> => {
      const sessionId = req.sessionId ?? '';
      const ok: KeepAliveAnswer = { sessionId, nonce: req.nonce ?? '0', ttlMs: 5000, expired: false };
      if (sessionId === '13') return Promise.reject(new LatchError('SESSION_EXPIRED', 'session 13 expired at index 9; open a new session'));
      if (sessionId === '66') return Promise.reject(new LatchError('LEADERSHIP_LOST', 'leadership changed'));
      if (sessionId.startsWith('7')) return new Promise((resolve) => late.set(sessionId, () => resolve(ok))); // waits for a RenewSession commit
      return Promise.resolve(ok);
    };
    const stub = {
      keepAlive,
      countCall: () => undefined,
      trackKeepAliveStream: (_rpc: string, h: { end(): void }) => {
        open++;
        handles.add(h);
        let tracked = true;
        return () => {
          if (tracked) open--;
          tracked = false;
          handles.delete(h);
        };
      },
    } as unknown as LatchService;
    const base = await freeBasePort(1);
    const address = `127.0.0.1:${base + 1}`;
    server = await startClientServer(stub, address, silentLogger);

    const s = new BatchStream(address);
    s.send([
      { sessionId: '1', nonce: '1' },
      { sessionId: '71', nonce: '1' },
      { sessionId: '13', nonce: '1' },
      { sessionId: '2', nonce: '1' },
    ]);
    const [first] = await s.received(1);
    expect([...first!].sort((x, y) => Number(x.sessionId) - Number(y.sessionId))).toEqual([
      { sessionId: '1', nonce: '1', ttlMs: 5000, expired: false },
      { sessionId: '2', nonce: '1', ttlMs: 5000, expired: false },
      { sessionId: '13', nonce: '1', ttlMs: 0, expired: true },
    ]);
    expect(open).toBe(1);
    // The one waiting for its commit comes alone, later.
    late.get('71')!({} as KeepAliveAnswer);
    const [, second] = await s.received(2);
    expect(second).toEqual([{ sessionId: '71', nonce: '1', ttlMs: 5000, expired: false }]);
    // Any other failure ends the stream with its status, as it ends KeepAlive.
    s.send([{ sessionId: '66', nonce: '1' }]);
    expect(await s.ended()).toMatchObject({ code: UNAVAILABLE, latchCode: 'LEADERSHIP_LOST' });
    await waitFor(() => open === 0, 5_000, 'the stream to be untracked');

    // Shutdown (the service ending its tracked streams) ends an open stream cleanly.
    const t = new BatchStream(address);
    t.send([{ sessionId: '3', nonce: '1' }]);
    await t.received(1);
    expect(open).toBe(1);
    for (const h of [...handles]) h.end();
    expect(await t.ended()).toMatchObject({ code: 0 });
    expect(open).toBe(0);
    closers.push(() => t.cancel());
  });
});
