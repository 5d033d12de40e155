/**
 * Locks.Stream against a real 3-node cluster with bearer tokens: every error (and answer) of an
 * operation on the stream equals its unary twin's status and trailers; many calls share one stream
 * and complete out of order; CancelCall and the end of the stream cancel a waiting acquire exactly
 * as cancelling its unary call does; the per-stream pending-call limit, duplicate call ids and
 * malformed requests get a CallError without ending the stream.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatchClient } from '../../src/client/index.js';
import { loadProto } from '../../src/common/proto.js';
import { hashToken } from '../../src/server/auth.js';
import { startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';

const ROOT = 'ops-secret';
const RUNNER = 'runner-secret'; // lock and read on jobs/ only
const UNAVAILABLE = 14;

let cluster: TestCluster;
let dir: string;
let leader: string;
let leaderHttp: string;
let follower: string;
let sessionA: string;
/** A session opened by the RUNNER token. */
let sessionR: string;
let sessionB: string;
let seq = 100;
const next = (): string => String(++seq);
const open: StreamClient[] = [];
const grpcClients: Client[] = [];
const sdkClients: LatchClient[] = [];

/** The parts of a failed call both paths carry. */
interface Failure {
  readonly code: number;
  readonly message: string;
  readonly latchCode: string;
  readonly leader: string;
}

type Outcome = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly error: Failure };

/** Call metadata with `authorization: Bearer <token>`, none for a null token. */
function md(token: string | null): Metadata {
  const m = new Metadata();
  if (token !== null) m.set('authorization', `Bearer ${token}`);
  return m;
}

function locksClient(endpoint: string): Client {
  const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
  const Ctor = pkg.latch.v1['Locks'] as ServiceClientConstructor;
  const c = new Ctor(endpoint, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  grpcClients.push(c);
  return c;
}

const unaryClients = new Map<string, Client>();

/** One unary Locks call with an optional token; never throws. */
function unary(endpoint: string, method: 'acquire' | 'release' | 'setValue' | 'get', req: object, token: string | null = ROOT, timeoutMs = 10_000): Promise<Outcome> {
  let c = unaryClients.get(endpoint);
  if (!c) unaryClients.set(endpoint, (c = locksClient(endpoint)));
  const fn = (c as unknown as Record<string, (r: object, m: Metadata, o: object, cb: (e: ServiceError | null, v?: unknown) => void) => void>)[method]!;
  return new Promise((resolve) => {
    fn.call(c, req, md(token), { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (!err) return resolve({ ok: true, value: res as Record<string, unknown> });
      const s = (k: string): string => String(err.metadata?.get(k)[0] ?? '');
      resolve({ ok: false, error: { code: err.code, message: err.details, latchCode: s('latch-code'), leader: s('latch-leader') } });
    });
  });
}

interface StreamResponse {
  readonly callId: string;
  readonly result?: string;
  readonly error?: { grpcCode: number; latchCode: string; message: string; leader: string };
  readonly [field: string]: unknown;
}

/** A raw Locks.Stream: send requests, await responses by call id. */
class StreamClient {
  readonly responses: StreamResponse[] = [];
  private readonly waiters = new Set<() => void>();
  readonly call: ClientDuplexStream<object, StreamResponse>;
  status: { code: number; details: string } | undefined;

  constructor(endpoint: string, token: string | null = ROOT) {
    const c = locksClient(endpoint);
    this.call = (c as unknown as { stream(m: Metadata): ClientDuplexStream<object, StreamResponse> }).stream(md(token));
    this.call.on('data', (r: StreamResponse) => {
      this.responses.push(r);
      for (const w of this.waiters) w();
    });
    this.call.on('status', (st: { code: number; details: string }) => {
      this.status = st;
      for (const w of this.waiters) w();
    });
    this.call.on('error', () => undefined);
    open.push(this);
  }

  send(msg: object): void {
    this.call.write(msg);
  }

  /** The first response for `callId` after the first `skip` ones. */
  async response(callId: string, skip = 0, timeoutMs = 15_000): Promise<StreamResponse> {
    const find = (): StreamResponse | undefined => this.responses.filter((r) => r.callId === callId)[skip];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = find();
      if (r) return r;
      if (this.status) throw new Error(`stream ended (${this.status.code} ${this.status.details}) before an answer to call ${callId}`);
      if (Date.now() > deadline) throw new Error(`no answer to call ${callId}`);
      await new Promise<void>((res) => {
        const w = (): void => {
          this.waiters.delete(w);
          res();
        };
        this.waiters.add(w);
        setTimeout(w, 100);
      });
    }
  }

  /** Sends one operation and resolves with its outcome in the unary shape. */
  async op(callId: string, field: 'acquire' | 'release' | 'setValue', req: object): Promise<Outcome> {
    this.send({ callId, [field]: req });
    return outcomeOf(await this.response(callId));
  }
}

function outcomeOf(r: StreamResponse): Outcome {
  if (r.result === 'error' && r.error) return { ok: false, error: { code: r.error.grpcCode, message: r.error.message, latchCode: r.error.latchCode, leader: r.error.leader } };
  return { ok: true, value: r[r.result ?? ''] as Record<string, unknown> };
}

async function metric(method: string, code: string): Promise<number> {
  const text = await (await fetch(`http://${leaderHttp}/metrics`, { headers: { authorization: `Bearer ${ROOT}` } })).text();
  const m = new RegExp(`^latch_rpcs_total\\{method="${method.replace('.', '\\.')}",code="${code}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function waiters(name: string): Promise<string[]> {
  const r = await unary(leader, 'get', { name });
  if (!r.ok) throw new Error(`Locks.Get ${name}: ${r.error.message}`);
  return (r.value['waiters'] as { sessionId: string }[]).map((w) => w.sessionId);
}

/** Opens a session as `token` (sessions belong to the token that opened them). */
async function openSession(token = ROOT): Promise<string> {
  const pkg = loadProto('latch.proto') as { latch: { v1: GrpcObject } };
  const c = new (pkg.latch.v1['Sessions'] as ServiceClientConstructor)(leader, credentials.createInsecure());
  grpcClients.push(c);
  return new Promise((resolve, reject) =>
    (c as unknown as { open(r: object, m: Metadata, cb: (e: Error | null, v?: { sessionId: string }) => void): void }).open({ ttlMs: 120_000, client: 'lock-stream-test' }, md(token), (e, v) =>
      e ? reject(e) : resolve(v!.sessionId),
    ),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latch-lock-stream-'));
  const tokens = join(dir, 'tokens');
  writeFileSync(tokens, `role:jobs:read,lock:jobs/\nops:${hashToken(ROOT)}:root\nrunner:${hashToken(RUNNER)}:jobs\n`);
  cluster = await startTestCluster({ nodes: 3, extraArgs: ['--token-file', tokens], httpToken: ROOT });
  const id = await cluster.leader();
  const node = cluster.nodes.find((n) => n.id === id)!;
  leader = node.clientAddress;
  leaderHttp = node.httpAddress;
  follower = cluster.nodes.find((n) => n.id !== id)!.clientAddress;
  sessionA = await openSession();
  sessionB = await openSession();
  sessionR = await openSession(RUNNER);
});

afterAll(async () => {
  await Promise.all(sdkClients.map((c) => c.close().catch(() => undefined)));
  for (const s of open) s.call.cancel();
  for (const c of grpcClients) c.getChannel().close();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Locks.Stream', () => {
  it('answers every operation with exactly the status, latch-code and leader hint of its unary call', async () => {
    const hold = await unary(leader, 'acquire', { sessionId: sessionA, requestSeq: next(), name: 'eq/held', waitMs: 0 });
    expect(hold.ok).toBe(true);
    type Case = [what: string, endpoint: string, token: string | null, field: 'acquire' | 'release' | 'setValue', req: () => object, latchCode: string | null];
    const cases: Case[] = [
      ['bad name', leader, ROOT, 'acquire', () => ({ sessionId: sessionB, requestSeq: next(), name: 'jobs//a', waitMs: 0 }), 'INVALID_ARGUMENT'],
      ['value over 4 KiB', leader, ROOT, 'acquire', () => ({ sessionId: sessionB, requestSeq: next(), name: 'eq/v', waitMs: 0, value: Buffer.alloc(4097) }), 'INVALID_ARGUMENT'],
      ['missing request_seq', leader, ROOT, 'release', () => ({ sessionId: sessionB, name: 'eq/held' }), 'INVALID_ARGUMENT'],
      ['unknown session', leader, ROOT, 'acquire', () => ({ sessionId: '999999', requestSeq: next(), name: 'eq/x', waitMs: 0 }), 'SESSION_NOT_FOUND'],
      ['not holder (release)', leader, ROOT, 'release', () => ({ sessionId: sessionB, requestSeq: next(), name: 'eq/held' }), 'NOT_HOLDER'],
      ['not holder (set value)', leader, ROOT, 'setValue', () => ({ sessionId: sessionB, requestSeq: next(), name: 'eq/held', value: Buffer.from('v') }), 'NOT_HOLDER'],
      ['not leader, with the leader hint', follower, ROOT, 'acquire', () => ({ sessionId: sessionB, requestSeq: next(), name: 'eq/y', waitMs: 0 }), 'NOT_LEADER'],
      ['no token', leader, null, 'acquire', () => ({ sessionId: sessionB, requestSeq: next(), name: 'jobs/a', waitMs: 0 }), 'UNAUTHENTICATED'],
      ['unknown token', leader, 'wrong-secret', 'release', () => ({ sessionId: sessionB, requestSeq: next(), name: 'jobs/a' }), 'UNAUTHENTICATED'],
      ['token without the prefix', leader, RUNNER, 'acquire', () => ({ sessionId: sessionB, requestSeq: next(), name: 'billing/run', waitMs: 0 }), 'PERMISSION_DENIED'],
      ['try-acquire of a held lock', leader, ROOT, 'acquire', () => ({ sessionId: sessionB, requestSeq: next(), name: 'eq/held', waitMs: 0 }), null],
    ];
    for (const [what, endpoint, token, field, req, latchCode] of cases) {
      const viaUnary = await unary(endpoint, field, req(), token);
      const s = new StreamClient(endpoint, token);
      const viaStream = await s.op('1', field, req());
      s.call.end();
      expect(viaStream, what).toEqual(viaUnary);
      if (latchCode === null) {
        expect(viaStream, what).toEqual({ ok: true, value: { acquired: false, sequencer: null } });
      } else {
        expect(viaStream.ok, what).toBe(false);
        expect((viaStream as { error: Failure }).error.latchCode, what).toBe(latchCode);
      }
    }
    const notLeader = await new StreamClient(follower).op('1', 'release', { sessionId: sessionB, requestSeq: next(), name: 'eq/held' });
    expect(notLeader).toMatchObject({ ok: false, error: { code: UNAVAILABLE, latchCode: 'NOT_LEADER', leader } });
  });

  it('grants over the stream as the unary call does, with the token of the stream', async () => {
    const s = new StreamClient(leader, RUNNER);
    const viaStream = await s.op('1', 'acquire', { sessionId: sessionR, requestSeq: next(), name: 'jobs/granted', waitMs: 0 });
    const viaUnary = await unary(leader, 'acquire', { sessionId: sessionR, requestSeq: next(), name: 'jobs/granted', waitMs: 0 }, RUNNER);
    // Re-acquiring a held lock in the same mode returns the same grant.
    expect(viaStream).toEqual(viaUnary);
    expect(viaStream).toMatchObject({ ok: true, value: { acquired: true, sequencer: { name: 'jobs/granted', mode: 'EXCLUSIVE', sessionId: sessionR } } });
    expect(await s.op('2', 'setValue', { sessionId: sessionR, requestSeq: next(), name: 'jobs/granted', value: Buffer.from('v1') })).toEqual({ ok: true, value: {} });
    // The stream's token is the caller: another token's session is refused, as on the unary call.
    const foreign = await s.op('4', 'release', { sessionId: sessionA, requestSeq: next(), name: 'jobs/granted' });
    expect(foreign).toMatchObject({ ok: false, error: { code: 7, latchCode: 'PERMISSION_DENIED' } });
    expect(foreign).toEqual(await unary(leader, 'release', { sessionId: sessionA, requestSeq: next(), name: 'jobs/granted' }, RUNNER));
    expect(await s.op('3', 'release', { sessionId: sessionR, requestSeq: next(), name: 'jobs/granted' })).toEqual({ ok: true, value: {} });
    s.call.end();
  });

  it('serves many concurrent calls on one stream, answering out of order: a waiting acquire does not block later calls', async () => {
    expect((await unary(leader, 'acquire', { sessionId: sessionA, requestSeq: next(), name: 'ooo/wait', waitMs: 0 })).ok).toBe(true);
    const s = new StreamClient(leader);
    s.send({ callId: '1', acquire: { sessionId: sessionB, requestSeq: next(), name: 'ooo/wait', waitMs: 60_000 } });
    await waitFor(async () => (await waiters('ooo/wait')).includes(sessionB), 10_000, 'B queued on ooo/wait');
    // 40 more calls from the other session on the same stream, all answered while call 1 waits.
    const names = Array.from({ length: 20 }, (_, i) => `ooo/n${i}`);
    names.forEach((name, i) => s.send({ callId: String(10 + i), acquire: { sessionId: sessionA, requestSeq: next(), name, waitMs: 0 } }));
    const grants = await Promise.all(names.map((_, i) => s.response(String(10 + i))));
    grants.forEach((g, i) => expect(g).toMatchObject({ result: 'acquire', acquire: { acquired: true, sequencer: { name: names[i], sessionId: sessionA } } }));
    names.forEach((name, i) => s.send({ callId: String(100 + i), release: { sessionId: sessionA, requestSeq: next(), name } }));
    for (const [i] of names.entries()) expect(await s.response(String(100 + i))).toMatchObject({ result: 'release' });
    expect(s.responses.some((r) => r.callId === '1')).toBe(false);
    // The holder releases (unary); the waiting call on the stream is granted.
    expect((await unary(leader, 'release', { sessionId: sessionA, requestSeq: next(), name: 'ooo/wait' })).ok).toBe(true);
    expect(await s.response('1')).toMatchObject({ result: 'acquire', acquire: { acquired: true, sequencer: { name: 'ooo/wait', sessionId: sessionB } } });
    expect((await s.op('2', 'release', { sessionId: sessionB, requestSeq: next(), name: 'ooo/wait' })).ok).toBe(true);
    s.call.end();
  });

  it('cancels a waiting acquire on CancelCall and on the end of the stream exactly as cancelling the unary call does', async () => {
    const waitingCancelled = (): Promise<number> => metric('Locks.Acquire', 'DEADLINE_EXCEEDED');
    for (const name of ['cx/unary', 'cx/cancel', 'cx/half-close', 'cx/stream-cancel']) {
      expect((await unary(leader, 'acquire', { sessionId: sessionA, requestSeq: next(), name, waitMs: 0 })).ok).toBe(true);
    }
    // Reference: a unary waiting acquire whose client gives up (its deadline passes).
    let before = await waitingCancelled();
    const gaveUp = await unary(leader, 'acquire', { sessionId: sessionB, requestSeq: next(), name: 'cx/unary', waitMs: 60_000 }, ROOT, 1000);
    expect(gaveUp).toMatchObject({ ok: false, error: { code: 4 } });
    await waitFor(async () => (await waitingCancelled()) === before + 1, 10_000, 'the server to stop waiting for the unary call');
    const unaryWaiters = await waiters('cx/unary');

    // CancelCall: the server stops waiting (counted as the unary call is), and call_id 1 is free again.
    const s = new StreamClient(leader);
    s.send({ callId: '1', acquire: { sessionId: sessionB, requestSeq: next(), name: 'cx/cancel', waitMs: 60_000 } });
    await waitFor(async () => (await waiters('cx/cancel')).includes(sessionB), 10_000, 'B queued on cx/cancel');
    before = await waitingCancelled();
    s.send({ callId: '1', cancel: {} });
    await waitFor(async () => (await waitingCancelled()) === before + 1, 10_000, 'the server to stop waiting after CancelCall');
    expect(await s.op('1', 'release', { sessionId: sessionB, requestSeq: next(), name: 'cx/none' })).toMatchObject({ ok: false, error: { latchCode: 'NOT_HOLDER' } });
    // The lock's queue is what the unary cancellation leaves: the waiter stays queued until its wait_ms.
    expect(await waiters('cx/cancel')).toEqual(unaryWaiters);
    expect(s.responses.filter((r) => r.callId === '1').length).toBe(1);

    // The client half-closes: pending calls are cancelled and the server ends the stream.
    const h = new StreamClient(leader);
    h.send({ callId: '1', acquire: { sessionId: sessionB, requestSeq: next(), name: 'cx/half-close', waitMs: 60_000 } });
    await waitFor(async () => (await waiters('cx/half-close')).includes(sessionB), 10_000, 'B queued on cx/half-close');
    before = await waitingCancelled();
    h.call.end();
    await waitFor(async () => (await waitingCancelled()) === before + 1 && h.status !== undefined, 10_000, 'the half-closed stream to cancel its call and end');
    expect(h.status?.code).toBe(0);
    expect(h.responses).toEqual([]);

    // The client cancels the stream.
    const c = new StreamClient(leader);
    c.send({ callId: '1', acquire: { sessionId: sessionB, requestSeq: next(), name: 'cx/stream-cancel', waitMs: 60_000 } });
    await waitFor(async () => (await waiters('cx/stream-cancel')).includes(sessionB), 10_000, 'B queued on cx/stream-cancel');
    before = await waitingCancelled();
    c.call.cancel();
    await waitFor(async () => (await waitingCancelled()) === before + 1, 10_000, 'the cancelled stream to cancel its call');
  });

  it('refuses a call beyond 1024 pending ones with RESOURCE_EXHAUSTED, and a duplicate or malformed request with INVALID_ARGUMENT, keeping the stream', async () => {
    expect((await unary(leader, 'acquire', { sessionId: sessionA, requestSeq: next(), name: 'lim/held', waitMs: 0 })).ok).toBe(true);
    const s = new StreamClient(leader);
    // Every call waits on the same lock (one waiter of session B, re-armed by each request).
    for (let i = 1; i <= 1024; i++) s.send({ callId: String(i), acquire: { sessionId: sessionB, requestSeq: next(), name: 'lim/held', waitMs: 120_000 } });
    const over = await s.op('1025', 'release', { sessionId: sessionB, requestSeq: next(), name: 'lim/none' });
    expect(over).toMatchObject({ ok: false, error: { code: 8, latchCode: '' } });
    expect((over as { error: Failure }).error.message).toMatch(/1024/);

    // A duplicate of a pending call id, and a request without an operation.
    const dup = await s.op('7', 'release', { sessionId: sessionB, requestSeq: next(), name: 'lim/none' });
    expect(dup).toMatchObject({ ok: false, error: { code: 3, latchCode: 'INVALID_ARGUMENT' } });
    expect((dup as { error: Failure }).error.message).toMatch(/call_id.*already pending/);
    s.send({ callId: '2000' });
    expect(outcomeOf(await s.response('2000'))).toMatchObject({ ok: false, error: { code: 3, latchCode: 'INVALID_ARGUMENT' } });

    // Cancelling one frees a slot; the stream keeps working.
    s.send({ callId: '3', cancel: {} });
    expect(await s.op('2001', 'release', { sessionId: sessionB, requestSeq: next(), name: 'lim/none' })).toMatchObject({ ok: false, error: { latchCode: 'NOT_HOLDER' } });
    expect(s.status).toBeUndefined();

    // The holder releases: the pending calls are granted, call 7 once (its duplicate got only the error).
    expect((await unary(leader, 'release', { sessionId: sessionA, requestSeq: next(), name: 'lim/held' })).ok).toBe(true);
    const seven = await s.response('7', 1);
    expect(seven).toMatchObject({ result: 'acquire', acquire: { acquired: true, sequencer: { name: 'lim/held', sessionId: sessionB } } });
    expect(await s.response('1024')).toMatchObject({ result: 'acquire' });
    s.call.end();
  });

  it('SDK: a waiting acquire on the stream survives a SIGKILL of the leader (the call is retried on a new stream at the new leader)', async () => {
    const connect = async (): Promise<LatchClient> => {
      const c = await LatchClient.connect({ endpoints: [...cluster.endpoints], token: ROOT });
      sdkClients.push(c);
      return c;
    };
    const [ca, cb] = [await connect(), await connect()];
    const sa = await ca.session({ ttlMs: 10_000 });
    const sb = await cb.session({ ttlMs: 10_000 });
    const held = await sa.lock('fo/x');
    const waiting = sb.lock('fo/x', { waitMs: 60_000 });
    await waitFor(async () => (await ca.locks('fo/')).find((l) => l.name === 'fo/x')?.waiters.some((w) => w.sessionId === sb.id), 10_000, 'B queued on fo/x');
    await cluster.kill(await cluster.leader());
    await cluster.leader();
    await held.release();
    const got = await waiting;
    expect(got.sessionId).toBe(sb.id);
    expect(got.token).toBeGreaterThan(held.token);
    await got.release();
  });
});
