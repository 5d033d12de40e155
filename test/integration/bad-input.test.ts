/**
 * Bad input against a real node (issue 4, DESIGN §5): each gets its gRPC status and Latch code,
 * limits are enforced before the log (the commit index does not move), the node stays up, and the
 * lock and session state are unchanged. (The commit index is not compared: leader duties append
 * session checkpoints in the background.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, waitFor, type TestCluster } from '../helpers/local-cluster.js';
import { RawClient, leaderEndpoint, type CallError } from '../helpers/raw-client.js';

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const RESOURCE_EXHAUSTED = 8;
const FAILED_PRECONDITION = 9;

let cluster: TestCluster;
let rc: RawClient;
let leaderId: string;
let session: string;
let seq = 0;
const next = (): string => String(++seq);

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 3, extraArgs: ['--max-waiters-per-lock', '2', '--max-sessions-per-connection', '3'] });
  leaderId = await cluster.leader();
  rc = new RawClient(await waitFor(() => leaderEndpoint(cluster.endpoints), 10_000, 'leader endpoint'));
  session = (await rc.call<{ sessionId: string }>('Sessions', 'open', { ttlMs: 60_000, client: 'bad-input' })).sessionId;
  await rc.call('Locks', 'acquire', { sessionId: session, requestSeq: next(), name: 'held/by-me', waitMs: 0 });
});

afterAll(async () => {
  rc?.close();
  await cluster?.stop();
});

async function snapshotState(): Promise<string> {
  const locks = await rc.call('Locks', 'list', { prefix: '' });
  const sessions = await rc.call<{ sessions: { sessionId: string; locks: string[] }[] }>('Sessions', 'list');
  return JSON.stringify({ locks, sessions: sessions.sessions.map((s) => [s.sessionId, s.locks]) });
}

/** Expects the call to fail with `code`/`latchCode`, leaving lock and session state unchanged. */
async function refusedBeforeLog(service: string, method: string, req: object, code: number, latchCode: string): Promise<CallError> {
  const before = await snapshotState();
  const r = await rc.attempt(service, method, req);
  expect(r.ok, `${service}.${method} ${JSON.stringify(req).slice(0, 80)} must fail`).toBe(false);
  const err = (r as { ok: false; error: CallError }).error;
  expect(err.code).toBe(code);
  expect(err.latchCode).toBe(latchCode);
  expect(err.details.length).toBeGreaterThan(10);
  expect(await snapshotState()).toBe(before);
  return err;
}

describe('bad input', () => {
  it.each([
    ['empty', ''],
    ['leading slash', '/jobs'],
    ['trailing slash', 'jobs/'],
    ['empty segment', 'jobs//a'],
    ['bad characters', 'jobs/a b!'],
    ['too long', 'x'.repeat(257)],
  ])('refuses a lock name that is %s with INVALID_ARGUMENT', async (_what, name) => {
    const err = await refusedBeforeLog('Locks', 'acquire', { sessionId: session, requestSeq: next(), name, waitMs: 0 }, INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    expect(err.details).toMatch(/name/);
  });

  it('refuses a value over 4 KiB, a malformed session id and a missing request_seq', async () => {
    await refusedBeforeLog('Locks', 'acquire', { sessionId: session, requestSeq: next(), name: 'v/big', waitMs: 0, value: Buffer.alloc(4097) }, INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await refusedBeforeLog('Locks', 'acquire', { sessionId: '0', requestSeq: next(), name: 'v/a', waitMs: 0 }, INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await refusedBeforeLog('Locks', 'release', { sessionId: session, name: 'held/by-me' }, INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await refusedBeforeLog('Sessions', 'open', { ttlMs: 10_000, client: 'c'.repeat(300) }, INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await refusedBeforeLog('Locks', 'list', { prefix: 'a b' }, INVALID_ARGUMENT, 'INVALID_ARGUMENT');
  });

  it('refuses an oversized message with RESOURCE_EXHAUSTED', async () => {
    const before = await snapshotState();
    const r = await rc.attempt('Locks', 'acquire', { sessionId: session, requestSeq: next(), name: 'v/huge', waitMs: 0, value: Buffer.alloc(100 * 1024) });
    expect(r.ok).toBe(false);
    expect((r as { ok: false; error: CallError }).error.code).toBe(RESOURCE_EXHAUSTED);
    expect(await snapshotState()).toBe(before);
  });

  it('refuses a waiter beyond the per-lock limit, and sessions beyond the per-connection limit', async () => {
    const others: string[] = [];
    for (let i = 0; i < 2; i++) others.push((await rc.call<{ sessionId: string }>('Sessions', 'open', { ttlMs: 60_000, client: `w${i}` })).sessionId);
    // Two waiters queue behind the holder (calls left pending; their sessions close in the end).
    const pending = others.map((s) => rc.attempt('Locks', 'acquire', { sessionId: s, requestSeq: '1', name: 'held/by-me', waitMs: 60_000 }, 60_000));
    await waitFor(async () => (await rc.call<{ waiters: unknown[] }>('Locks', 'get', { name: 'held/by-me' })).waiters.length === 2, 10_000, 'two waiters');
    const third = await waitFor(async () => (await rc.attempt<{ sessionId: string }>('Sessions', 'open', { ttlMs: 60_000, client: 'third' })), 5000, 'open');
    // This connection now has 4 sessions > 3: the per-connection limit refuses a fifth.
    expect(third.ok).toBe(false);
    const err = (third as { ok: false; error: CallError }).error;
    expect(err.code).toBe(RESOURCE_EXHAUSTED);
    expect(err.latchCode).toBe('TOO_MANY_SESSIONS');
    const other = new RawClient(rc.endpoint, true);
    try {
      const s3 = (await other.call<{ sessionId: string }>('Sessions', 'open', { ttlMs: 60_000, client: 'w3' })).sessionId;
      const r = await other.attempt('Locks', 'acquire', { sessionId: s3, requestSeq: '1', name: 'held/by-me', waitMs: 1000 });
      expect(r.ok).toBe(false);
      expect((r as { ok: false; error: CallError }).error.latchCode).toBe('TOO_MANY_WAITERS');
    } finally {
      other.close();
    }
    for (const [i, s] of others.entries()) await rc.call('Sessions', 'close', { sessionId: s, requestSeq: String(10 + i) });
    const outcomes = await Promise.all(pending);
    for (const o of outcomes) expect(o.ok).toBe(false);
  });

  it('answers unknown sessions, non-holders and stale requests with their codes, changing nothing', async () => {
    const before = await snapshotState();
    const unknown = await rc.attempt('Locks', 'acquire', { sessionId: '999999', requestSeq: '1', name: 'x/y', waitMs: 0 });
    expect(unknown.ok).toBe(false);
    expect((unknown as { ok: false; error: CallError }).error.code).toBe(NOT_FOUND);
    const notHeld = await rc.attempt('Locks', 'release', { sessionId: session, requestSeq: next(), name: 'never/held' });
    expect((notHeld as { ok: false; error: CallError }).error.code).toBe(FAILED_PRECONDITION);
    expect((notHeld as { ok: false; error: CallError }).error.latchCode).toBe('NOT_HOLDER');
    const stale = await rc.attempt('Locks', 'release', { sessionId: session, requestSeq: '1', name: 'held/by-me' });
    expect((stale as { ok: false; error: CallError }).error.code).toBe(FAILED_PRECONDITION);
    expect((stale as { ok: false; error: CallError }).error.latchCode).toBe('STALE_REQUEST');
    expect(await snapshotState()).toBe(before);
    // Every node is still up and agrees on the leader.
    expect(await cluster.leader()).toBe(leaderId);
    for (const n of cluster.nodes) expect(cluster.pid(n.id)).toBeDefined();
  });
});
