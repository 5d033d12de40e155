import { describe, expect, it } from 'vitest';
import { GrpcStatus } from '../../src/common/errors.js';
import { SeededRng } from '../../src/common/rng.js';
import { LatchClient } from '../../src/client/client.js';
import {
  LatchClientError,
  LockHeldError,
  LockLostError,
  NotHolderError,
  SessionExpiredError,
  WaitTimeoutError,
} from '../../src/client/errors.js';
import { errorFromStatus } from '../../src/client/error-mapping.js';
import type { SessionEvent } from '../../src/client/session.js';
import type { WireAcquireResponse } from '../../src/client/wire.js';
import { Metadata } from '@grpc/grpc-js';
import { deferred, FakeTransport, flush, ManualTimers } from './fakes.js';

const EPS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
const TTL = 3000; // drift margin 150 ms, keepalive every 1000 ms, grace 3000 ms

/** A fake cluster: one leader, a lock table, and per-session dedup by requestSeq. */
class FakeServer {
  readonly holders = new Map<string, { session: string; token: number }>();
  readonly seqs = new Map<string, bigint>();
  index = 100;
  nextSession = 10;
  acquireHook: ((name: string) => Promise<WireAcquireResponse> | undefined) | undefined;
  constructor(readonly t: FakeTransport) {
    t.on('Sessions/Open', () => ({ sessionId: String(this.nextSession++), ttlMs: TTL }));
    t.on('Sessions/Close', (_ep, req) => {
      this.checkSeq(req.sessionId, req.requestSeq);
      for (const [name, h] of this.holders) if (h.session === req.sessionId) this.holders.delete(name);
      return {};
    });
    t.on('Locks/Acquire', (_ep, req) => {
      this.checkSeq(req.sessionId, req.requestSeq);
      const hooked = this.acquireHook?.(req.name);
      if (hooked) return hooked;
      const h = this.holders.get(req.name);
      if (h && h.session !== req.sessionId) return { acquired: false, sequencer: null };
      const token = h?.token ?? ++this.index;
      this.holders.set(req.name, { session: req.sessionId, token });
      return { acquired: true, sequencer: { name: req.name, mode: req.mode, token: String(token), sessionId: req.sessionId } };
    });
    t.on('Locks/Release', (_ep, req) => {
      this.checkSeq(req.sessionId, req.requestSeq);
      const h = this.holders.get(req.name);
      if (!h || h.session !== req.sessionId) throw new NotHolderError(`session ${req.sessionId} does not hold ${req.name}`);
      this.holders.delete(req.name);
      return {};
    });
    t.on('Locks/SetValue', () => ({}));
  }
  private checkSeq(session: string, seq: string): void {
    const s = BigInt(seq);
    const last = this.seqs.get(session) ?? 0n;
    if (s < last) throw new Error(`stale seq ${s} < ${last}`);
    this.seqs.set(session, s);
  }
}

async function setup(): Promise<{ transport: FakeTransport; timers: ManualTimers; server: FakeServer; client: LatchClient }> {
  const transport = new FakeTransport();
  transport.ttlMs = TTL;
  const timers = new ManualTimers();
  const server = new FakeServer(transport);
  const client = await LatchClient.connect({ endpoints: EPS, verify: false, transport, clock: timers.clock, timers, rng: new SeededRng(9), waitMarginMs: 1000 });
  return { transport, timers, server, client };
}

function record(session: { on: (t: SessionEvent['type'], fn: (e: SessionEvent) => void) => unknown }): string[] {
  const seen: string[] = [];
  for (const t of ['jeopardy', 'safe', 'expired'] as const) session.on(t, (e) => seen.push(e.type));
  return seen;
}

describe('Session', () => {
  it('opens, keeps itself alive every ttl/3 and stays safe while keepalives are answered', async () => {
    const { transport, timers, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    expect(session.id).toBe(10n);
    expect(session.ttlMs).toBe(TTL);
    const events = record(session);
    await timers.advance(10 * TTL);
    expect(session.state).toBe('safe');
    expect(events).toEqual([]);
    const sent = transport.lastKeepAlive.sent;
    expect(sent.length).toBeGreaterThanOrEqual(30);
    expect(sent.every((r) => r.sessionId === '10')).toBe(true);
    const nonces = sent.map((r) => BigInt(r.nonce));
    expect(nonces.every((n, i) => i === 0 || n > nonces[i - 1]!)).toBe(true);
    await client.close();
  });

  it('enters jeopardy exactly when the local lease runs out, fires every lock signal, then recovers to safe and gives the locks back', async () => {
    const { transport, timers, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const events = record(session);
    await timers.advance(10);
    const lock = await session.lock('jobs/a', { waitMs: 0 });
    expect(lock.held).toBe(true);
    expect(server.holders.get('jobs/a')?.session).toBe('10');
    // Stop answering keepalives: the last answered one was sent at about t0 + 10.
    transport.autoAck = false;
    const leaseEnd = (session as unknown as { lease: { leaseEndsAt: number } }).lease.leaseEndsAt;
    await timers.advance(leaseEnd - timers.clock.now() - 1);
    expect(lock.held).toBe(true);
    expect(events).toEqual([]);
    await timers.advance(1);
    expect(lock.held).toBe(false);
    expect(lock.signal.aborted).toBe(true);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect((lock.signal.reason as LockLostError).reason).toBe('jeopardy');
    expect(session.state).toBe('jeopardy');
    expect(events).toEqual(['jeopardy']);
    // The cluster answers again within the grace period.
    transport.autoAck = true;
    await timers.advance(TTL / 2);
    expect(events).toEqual(['jeopardy', 'safe']);
    expect(session.state).toBe('safe');
    // The lock stays lost and was given back to the server.
    expect(lock.held).toBe(false);
    expect(server.holders.has('jobs/a')).toBe(false);
    expect(transport.callsOf('Locks/Release').length).toBe(1);
    await client.close();
  });

  it('expires when no keepalive is answered through the grace period', async () => {
    const { transport, timers, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const lock = await session.lock('jobs/b', { waitMs: 0 });
    const events: SessionEvent[] = [];
    session.on('expired', (e) => events.push(e));
    session.on('jeopardy', (e) => events.push(e));
    transport.autoAck = false;
    await timers.advance(2 * TTL + 10);
    expect(events.map((e) => e.type)).toEqual(['jeopardy', 'expired']);
    // Through the grace period the keepalive tried every endpoint.
    expect(new Set(transport.keepAlives.map((s) => s.endpoint))).toEqual(new Set(EPS));
    const jeopardy = events[0];
    expect(jeopardy?.type === 'jeopardy' && jeopardy.graceMs).toBe(TTL);
    const expired = events[1];
    expect(expired?.type === 'expired' && expired.error).toBeInstanceOf(SessionExpiredError);
    expect(expired?.type === 'expired' && expired.cause).toBe('grace-ended');
    expect(session.state).toBe('expired');
    expect(lock.held).toBe(false);
    await expect(session.lock('jobs/c')).rejects.toBeInstanceOf(SessionExpiredError);
    // Keepalives stopped.
    const sent = transport.keepAlives.reduce((n, s) => n + s.sent.length, 0);
    await timers.advance(5 * TTL);
    expect(transport.keepAlives.reduce((n, s) => n + s.sent.length, 0)).toBe(sent);
    // Nothing is left to release once the session is gone: release says the lock was lost.
    const lost = await lock.release().then(() => null, (e: unknown) => e);
    expect(lost).toBeInstanceOf(LockLostError);
    expect((lost as LockLostError).reason).toBe('expired');
    expect(transport.callsOf('Locks/Release').length).toBe(0);
    await client.close();
  });

  it('expires at once when the server answers expired=true', async () => {
    const { transport, timers, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const seen = record(session);
    const causes: string[] = [];
    session.on('expired', (e) => causes.push(e.type === 'expired' ? e.cause : ''));
    transport.autoAck = false;
    await timers.advance(1);
    const endBefore = session.leaseEndsAt;
    expect(endBefore).toBeGreaterThan(timers.clock.now());
    transport.lastKeepAlive.ack(transport.lastKeepAlive.sent[0]!.nonce, true);
    await flush();
    expect(seen).toEqual(['expired']);
    expect(causes).toEqual(['server']);
    expect(session.state).toBe('expired');
    await client.close();
  });

  it('reconnects the keepalive stream to the hinted leader when a follower ends it', async () => {
    const { transport, timers, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    await timers.advance(1);
    const first = transport.lastKeepAlive;
    const md = new Metadata();
    md.set('latch-code', 'NOT_LEADER');
    md.set('latch-leader', '127.0.0.1:7009');
    first.end(errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'not the leader', metadata: md }));
    await timers.advance(1);
    expect(transport.keepAlives.length).toBe(2);
    expect(transport.lastKeepAlive.endpoint).toBe('127.0.0.1:7009');
    expect(transport.lastKeepAlive.sent.length).toBe(1);
    expect(session.state).toBe('safe');
    expect(client.leaderEndpoint).toBe('127.0.0.1:7009');
    await client.close();
  });

  it('rotates away from a stream that stops answering before the lease is in danger', async () => {
    const { transport, timers, client } = await setup();
    await client.session({ ttlMs: TTL });
    await timers.advance(1);
    transport.autoAck = false;
    const first = transport.lastKeepAlive;
    await timers.advance(2 * (TTL / 3) + 1);
    expect(first.cancelled).toBe(true);
    expect(transport.keepAlives.length).toBeGreaterThan(1);
    expect(transport.lastKeepAlive.endpoint).not.toBe(first.endpoint);
    await client.close();
  });

  it('gives every mutating call the next requestSeq and runs them one at a time', async () => {
    const { transport, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const gate = deferred<WireAcquireResponse>();
    server.acquireHook = (name) => (name === 'slow' ? gate.promise : undefined);
    const slow = session.lock('slow', { waitMs: 1000 });
    const fast = session.tryLock('fast');
    await flush();
    expect(transport.callsOf('Locks/Acquire').map((c) => c.req.name)).toEqual(['slow']);
    server.holders.set('slow', { session: '10', token: 500 });
    gate.resolve({ acquired: true, sequencer: { name: 'slow', mode: 'EXCLUSIVE', token: '500', sessionId: '10' } });
    const [a, b] = await Promise.all([slow, fast]);
    expect(a.token).toBe(500n);
    expect(b?.name).toBe('fast');
    await a.release();
    const seqs = [...transport.callsOf('Locks/Acquire'), ...transport.callsOf('Locks/Release')].map((c) => BigInt(c.req.requestSeq));
    expect(seqs).toEqual([1n, 2n, 3n]);
    await client.close();
    expect(BigInt(transport.callsOf('Sessions/Close')[0]!.req.requestSeq)).toBe(4n);
  });

  it('reuses the same requestSeq when retrying after a lost connection', async () => {
    const { transport, timers, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    let failures = 1;
    server.acquireHook = () => {
      if (failures-- > 0) return Promise.reject(errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'Connection dropped' }));
      return undefined;
    };
    const p = session.lock('jobs/r', { waitMs: 0 });
    await timers.advance(5);
    const lock = await p;
    const calls = transport.callsOf('Locks/Acquire');
    expect(calls.length).toBe(2);
    expect(calls[0]!.req.requestSeq).toBe(calls[1]!.req.requestSeq);
    expect(lock.sequencer).toEqual({ name: 'jobs/r', mode: 'exclusive', token: lock.token, sessionId: 10n });
    await client.close();
  });

  it('tryLock returns null when held; lock with waitMs 0 throws LockHeldError; a second hold by the same session is refused', async () => {
    const { client } = await setup();
    const s1 = await client.session({ ttlMs: TTL });
    const s2 = await client.session({ ttlMs: TTL });
    const held = await s1.tryLock('x');
    expect(held).not.toBeNull();
    expect(await s2.tryLock('x')).toBeNull();
    await expect(s2.lock('x', { waitMs: 0 })).rejects.toBeInstanceOf(LockHeldError);
    await expect(s1.lock('x', { waitMs: 0 })).rejects.toThrow(/already holds x/);
    await client.close();
  });

  it('sends blocking waits with a gRPC deadline of wait + margin and splits long waits into chunks', async () => {
    const { transport, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    let timeouts = 2;
    server.acquireHook = () => (timeouts-- > 0 ? Promise.reject(new WaitTimeoutError('wait timed out')) : undefined);
    const lock = await session.lock('long', { waitMs: Infinity });
    const calls = transport.callsOf('Locks/Acquire');
    expect(calls.length).toBe(3);
    expect(calls[0]!.req.waitMs).toBe(60_000);
    expect(calls[0]!.timeoutMs).toBe(61_000);
    expect(new Set(calls.map((c) => c.req.requestSeq)).size).toBe(3);
    expect(lock.held).toBe(true);
    await client.close();
  });

  it('reports WaitTimeoutError when a finite wait runs out', async () => {
    const { server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    server.acquireHook = () => Promise.reject(new WaitTimeoutError('wait timed out'));
    await expect(session.lock('w', { waitMs: 500 })).rejects.toBeInstanceOf(WaitTimeoutError);
    await client.close();
  });

  it('does not hand out a lock granted while in jeopardy until the session is safe again', async () => {
    const { transport, timers, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    transport.autoAck = false;
    await timers.advance(TTL);
    expect(session.state).toBe('jeopardy');
    let settled = false;
    const p = session.lock('late', { waitMs: 0 }).then((l) => {
      settled = true;
      return l;
    });
    await timers.advance(10);
    expect(server.holders.has('late')).toBe(true);
    expect(settled).toBe(false);
    transport.autoAck = true;
    await timers.advance(TTL / 3 + 10);
    const lock = await p;
    expect(session.state).toBe('safe');
    expect(lock.held).toBe(true);
    expect(server.holders.get('late')?.session).toBe('10');
    await client.close();
  });

  it('withLock releases after the callback, also when it throws', async () => {
    const { server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const v = await session.withLock('wl', (lock) => {
      expect(server.holders.get('wl')?.token).toBe(Number(lock.token));
      return 42;
    });
    expect(v).toBe(42);
    expect(server.holders.has('wl')).toBe(false);
    await expect(
      session.withLock('wl', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(server.holders.has('wl')).toBe(false);
    await client.close();
  });

  it('release is idempotent and fires the signal with reason released; await using releases', async () => {
    const { transport, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const lock = await session.lock('r', { waitMs: 0 });
    await Promise.all([lock.release(), lock.release()]);
    await lock.release();
    expect(transport.callsOf('Locks/Release').length).toBe(1);
    expect((lock.signal.reason as LockLostError).reason).toBe('released');
    {
      await using l2 = await session.lock('r2', { waitMs: 0 });
      expect(server.holders.has('r2')).toBe(true);
      expect(l2.held).toBe(true);
    }
    expect(server.holders.has('r2')).toBe(false);
    await client.close();
  });

  it('an aborted wait rejects at once, and a grant that arrives later is released', async () => {
    const { server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const gate = deferred<WireAcquireResponse>();
    server.acquireHook = (name) => (name === 'ab' ? gate.promise : undefined);
    const ac = new AbortController();
    const p = session.lock('ab', { waitMs: 5000, signal: ac.signal });
    await flush();
    ac.abort(new Error('user gave up'));
    await expect(p).rejects.toThrow('user gave up');
    server.holders.set('ab', { session: '10', token: 777 });
    gate.resolve({ acquired: true, sequencer: { name: 'ab', mode: 'EXCLUSIVE', token: '777', sessionId: '10' } });
    await flush();
    expect(server.holders.has('ab')).toBe(false);
    await client.close();
  });

  it('close fires lock signals, abandons a pending wait and closes the session on the server', async () => {
    const { transport, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const lock = await session.lock('c1', { waitMs: 0 });
    server.acquireHook = (name) => (name === 'c2' ? new Promise(() => undefined) : undefined);
    const pending = session.lock('c2', { waitMs: 10_000 });
    await flush();
    await session.close();
    await expect(pending).rejects.toBeInstanceOf(LatchClientError);
    expect((lock.signal.reason as LockLostError).reason).toBe('session-closed');
    expect(transport.callsOf('Sessions/Close').length).toBe(1);
    expect(server.holders.size).toBe(0);
    expect(session.state).toBe('closed');
    await expect(session.tryLock('c3')).rejects.toThrow(/closed/);
    await session.close(); // idempotent
    expect(transport.callsOf('Sessions/Close').length).toBe(1);
    await client.close();
  });

  it('a NOT_HOLDER release rejects with LockLostError(not-held), every time; bad arguments are typed errors before any call', async () => {
    const { transport, server, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    const lock = await session.lock('n', { waitMs: 0 });
    server.holders.delete('n');
    const first = await lock.release().then(() => null, (e: unknown) => e);
    expect(first).toBeInstanceOf(LockLostError);
    expect((first as LockLostError).reason).toBe('not-held');
    expect((first as LockLostError).message).toMatch(/already lost when released/);
    await expect(lock.release()).rejects.toBe(first);
    expect(transport.callsOf('Locks/Release').length).toBe(1);
    // The session forgot it: the same name can be taken again.
    const again = await session.lock('n', { waitMs: 0 });
    expect(again.held).toBe(true);
    await again.release();
    const before = transport.calls.length;
    await expect(session.lock('bad//name')).rejects.toThrow(/empty segment/);
    await expect(session.lock('ok', { waitMs: -1 })).rejects.toThrow(/waitMs/);
    await expect(session.lock('ok', { mode: 'upgrade' as never })).rejects.toThrow(/mode/);
    await expect(session.lock('ok', { value: 'x'.repeat(5000) })).rejects.toThrow(/4096/);
    await expect(client.session({ ttlMs: -5 })).rejects.toThrow(/ttlMs/);
    expect(transport.calls.length).toBe(before);
    await client.close();
  });
});

describe('Session.close', () => {
  it('gives up after its timeout when no endpoint answers, and still ends the session locally', async () => {
    const { transport, timers, client } = await setup();
    const session = await client.session({ ttlMs: TTL });
    transport.on('Sessions/Close', () => {
      throw errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'connect ECONNREFUSED' });
    });
    const closing = session.close({ timeoutMs: 500 }).then(
      () => 'closed',
      (e: unknown) => e,
    );
    await timers.advance(600);
    const err = await closing;
    expect(err).toBeInstanceOf(LatchClientError);
    expect(session.state).toBe('closed');
    const streams = transport.keepAlives.length;
    const sent = transport.lastKeepAlive.sent.length;
    await timers.advance(5 * TTL);
    expect(transport.keepAlives.length).toBe(streams);
    expect(transport.lastKeepAlive.sent.length).toBe(sent);
    expect(timers.size).toBe(0);
    await client.close();
  });
});
