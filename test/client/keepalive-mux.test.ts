/**
 * KeepAliveMux (src/client/keepalive-mux.ts) over fake batch wires with a manual clock: requests of
 * many handles coalesce into one batch per flush window, answers are routed by session_id, cancel
 * unregisters (and the last cancel closes the physical stream), a failed or ended stream ends every
 * handle exactly once with the per-session error, batches split at 4096 requests and at the byte
 * bound, and a server without KeepAliveBatch (UNIMPLEMENTED) moves every handle to its own
 * per-session stream. Last, real Sessions (KeepAliveLoop, unchanged) on a mux-backed transport.
 */
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/common/rng.js';
import { GrpcStatus, NotLeaderError } from '../../src/common/errors.js';
import { LatchClient } from '../../src/client/client.js';
import { leaderHintOf } from '../../src/client/error-mapping.js';
import { LatchClientError, SessionExpiredError, UnavailableError } from '../../src/client/errors.js';
import {
  KEEPALIVE_FALLBACK_MS,
  KEEPALIVE_FLUSH_WINDOW_MS,
  KeepAliveMux,
  MAX_KEEPALIVE_BATCH,
  MAX_KEEPALIVE_BATCH_BYTES,
  type KeepAliveBatchSink,
} from '../../src/client/keepalive-mux.js';
import type { KeepAliveStreamHandle, StreamHandlers } from '../../src/client/rpc-transport.js';
import type { WireKeepAliveBatchRequest, WireKeepAliveRequest, WireKeepAliveResponse } from '../../src/client/wire.js';
import { FakeTransport, ManualTimers } from './fakes.js';

/** One fake physical KeepAliveBatch stream. */
interface FakeBatch {
  readonly sink: KeepAliveBatchSink;
  readonly writes: WireKeepAliveBatchRequest[];
  cancelled: boolean;
}

/** One fake per-session KeepAlive stream (the fallback). */
interface FakeSingle {
  readonly handlers: StreamHandlers<WireKeepAliveResponse>;
  readonly sent: WireKeepAliveRequest[];
  cancelled: boolean;
}

/** What one handle saw. */
interface Seen {
  readonly data: WireKeepAliveResponse[];
  readonly ends: (Error | null)[];
}

function harness(opts: { openFails?: Error } = {}) {
  const timers = new ManualTimers();
  const batches: FakeBatch[] = [];
  const singles: FakeSingle[] = [];
  const mux = new KeepAliveMux('127.0.0.1:7001', {
    openBatch: (sink) => {
      if (opts.openFails) throw opts.openFails;
      const b: FakeBatch = { sink, writes: [], cancelled: false };
      batches.push(b);
      return { write: (m) => b.writes.push(m), cancel: () => (b.cancelled = true) };
    },
    openSingle: (handlers) => {
      const s: FakeSingle = { handlers, sent: [], cancelled: false };
      singles.push(s);
      return { send: (r) => s.sent.push(r), cancel: () => (s.cancelled = true) };
    },
    timers,
    clock: timers.clock,
  });
  /** Opens a handle that records what it sees. */
  const open = (onEnd?: (err: Error | null) => void): { handle: KeepAliveStreamHandle; seen: Seen } => {
    const seen: Seen = { data: [], ends: [] };
    const handle = mux.open({
      onData: (m) => seen.data.push(m),
      onEnd: (e) => {
        seen.ends.push(e);
        onEnd?.(e);
      },
    });
    return { handle, seen };
  };
  return { timers, batches, singles, mux, open };
}

const req = (sessionId: string | number, nonce: string | number = 1): WireKeepAliveRequest => ({ sessionId: String(sessionId), nonce: String(nonce) });
const ack = (sessionId: string | number, nonce: string | number = 1, expired = false): WireKeepAliveResponse => ({ sessionId: String(sessionId), nonce: String(nonce), ttlMs: 3000, expired });
const sent = (b: FakeBatch): string[][] => b.writes.map((w) => w.requests.map((r) => `${r.sessionId}/${r.nonce}`));

describe('KeepAliveMux', () => {
  it('coalesces the sends of many handles into one batch per flush window, on one physical stream', async () => {
    const h = harness();
    const a = h.open();
    const b = h.open();
    const c = h.open();
    a.handle.send(req(1));
    b.handle.send(req(2));
    c.handle.send(req(3));
    expect(h.batches).toHaveLength(1);
    expect(h.batches[0]!.writes).toHaveLength(0); // held for the flush window
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    expect(sent(h.batches[0]!)).toEqual([['1/1', '2/1', '3/1']]);
    a.handle.send(req(1, 2));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    expect(sent(h.batches[0]!)).toEqual([['1/1', '2/1', '3/1'], ['1/2']]);
    expect(h.mux.streamsOpened).toBe(1);
    expect(h.mux.size).toBe(3);
  });

  it('routes answers by session_id, to every handle of a session, in any order; unknown sessions are dropped', async () => {
    const h = harness();
    const a = h.open();
    const b = h.open();
    const b2 = h.open(); // a second live handle of session 2 (e.g. a rotation racing an answer)
    a.handle.send(req(1));
    b.handle.send(req(2));
    b2.handle.send(req(2, 7));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    h.batches[0]!.sink.onData({ responses: [ack(2, 7), ack(99), ack(1), ack(2, 1, true)] });
    expect(a.seen.data).toEqual([ack(1)]);
    expect(b.seen.data).toEqual([ack(2, 7), ack(2, 1, true)]);
    expect(b2.seen.data).toEqual([ack(2, 7), ack(2, 1, true)]);
    expect([a, b, b2].flatMap((x) => x.seen.ends)).toEqual([]);
  });

  it('cancel unregisters a handle: its queued request is not sent, its answers are dropped, and the last cancel closes the stream', async () => {
    const h = harness();
    const a = h.open();
    const b = h.open();
    a.handle.send(req(1));
    b.handle.send(req(2));
    a.handle.cancel();
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    expect(sent(h.batches[0]!)).toEqual([['2/1']]);
    h.batches[0]!.sink.onData({ responses: [ack(1), ack(2)] });
    expect(a.seen.data).toEqual([]);
    expect(b.seen.data).toEqual([ack(2)]);
    expect(h.batches[0]!.cancelled).toBe(false);
    b.handle.cancel();
    expect(h.batches[0]!.cancelled).toBe(true);
    // The cancelled stream's own report of its end reaches nobody.
    h.batches[0]!.sink.onEnd({ code: GrpcStatus.CANCELLED, details: 'Cancelled on client' });
    expect([...a.seen.ends, ...b.seen.ends]).toEqual([]);
    // The next handle opens a new physical stream.
    const c = h.open();
    c.handle.send(req(3));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    expect(h.batches).toHaveLength(2);
    expect(sent(h.batches[1]!)).toEqual([['3/1']]);
  });

  it('a failed stream ends EVERY handle once with the per-session error (leader hint kept); reopening from onEnd gets a new stream', async () => {
    const h = harness();
    const reopened: KeepAliveStreamHandle[] = [];
    const handles = [1, 2, 3].map((sid) => {
      const x = h.open(() => reopened.push(h.mux.open({ onData: () => undefined, onEnd: () => undefined })));
      x.handle.send(req(sid));
      return x;
    });
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    const md = new Metadata();
    md.set('latch-code', 'NOT_LEADER');
    md.set('latch-leader', '127.0.0.1:7002');
    h.batches[0]!.sink.onEnd({ code: GrpcStatus.UNAVAILABLE, details: 'not the leader', metadata: md });
    h.batches[0]!.sink.onEnd(null); // a second report is ignored
    for (const x of handles) {
      expect(x.seen.ends).toHaveLength(1);
      expect(x.seen.ends[0]).toBeInstanceOf(NotLeaderError);
      expect(leaderHintOf(x.seen.ends[0])).toBe('127.0.0.1:7002');
    }
    // Every reopen (made from inside onEnd) shares ONE new physical stream.
    expect(reopened).toHaveLength(3);
    expect(h.batches).toHaveLength(2);
    expect(h.mux.size).toBe(3);
    // Sends on an ended handle go nowhere.
    handles[0]!.handle.send(req(1, 2));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    expect(sent(h.batches[0]!)).toEqual([['1/1', '2/1', '3/1']]);
  });

  it('a clean end ends every handle with null; a session error on the whole stream is reported as retryable, not as every session expiring', async () => {
    const h = harness();
    const a = h.open();
    a.handle.send(req(1));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    h.batches[0]!.sink.onEnd(null);
    expect(a.seen.ends).toEqual([null]);

    const b = h.open();
    const c = h.open();
    b.handle.send(req(2));
    c.handle.send(req(3));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    const md = new Metadata();
    md.set('latch-code', 'SESSION_EXPIRED');
    h.batches[1]!.sink.onEnd({ code: GrpcStatus.NOT_FOUND, details: 'session 2 expired', metadata: md });
    for (const x of [b, c]) {
      expect(x.seen.ends).toHaveLength(1);
      expect(x.seen.ends[0]).not.toBeInstanceOf(SessionExpiredError);
      expect(x.seen.ends[0]).toBeInstanceOf(UnavailableError);
    }
  });

  it(`splits a flush into batches of at most ${MAX_KEEPALIVE_BATCH} requests, in order`, async () => {
    const h = harness();
    const n = MAX_KEEPALIVE_BATCH + 904;
    for (let i = 1; i <= n; i++) h.open().handle.send(req(i));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    const writes = h.batches[0]!.writes;
    expect(writes.map((w) => w.requests.length)).toEqual([MAX_KEEPALIVE_BATCH, 904]);
    expect(writes.flatMap((w) => w.requests.map((r) => Number(r.sessionId)))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('also splits by encoded size, so a batch of long ids stays under the server message limit', async () => {
    const h = harness();
    const big = (i: number) => (10n ** 19n + BigInt(i)).toString(); // 20 digits: 10-byte varints
    for (let i = 0; i < MAX_KEEPALIVE_BATCH; i++) h.open().handle.send(req(big(i), big(i)));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    const writes = h.batches[0]!.writes;
    expect(writes.length).toBeGreaterThan(1);
    expect(writes.reduce((a, w) => a + w.requests.length, 0)).toBe(MAX_KEEPALIVE_BATCH);
    for (const w of writes) expect(w.requests.reduce((a, r) => a + 4 + r.sessionId.length + r.nonce.length, 0)).toBeLessThanOrEqual(MAX_KEEPALIVE_BATCH_BYTES);
  });

  it('falls back to per-session KeepAlive streams on UNIMPLEMENTED, resending what never ran, then retries the batch stream later', async () => {
    const h = harness();
    const a = h.open();
    const b = h.open();
    a.handle.send(req(1, 1));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    b.handle.send(req(2, 1)); // still queued when the answer comes
    h.batches[0]!.sink.onEnd({ code: GrpcStatus.UNIMPLEMENTED, details: 'The server does not implement the method /latch.v1.Sessions/KeepAliveBatch' });
    expect([...a.seen.ends, ...b.seen.ends]).toEqual([]); // nobody sees a failure
    expect(h.singles.map((s) => s.sent)).toEqual([[req(1, 1)], [req(2, 1)]]);
    // Answers and later sends go through each handle's own stream.
    h.singles[0]!.handlers.onData(ack(1, 1));
    expect(a.seen.data).toEqual([ack(1, 1)]);
    a.handle.send(req(1, 2));
    expect(h.singles[0]!.sent).toEqual([req(1, 1), req(1, 2)]);
    h.singles[1]!.handlers.onEnd(null);
    expect(b.seen.ends).toEqual([null]);
    a.handle.cancel();
    expect(h.singles[0]!.cancelled).toBe(true);
    // New handles get per-session streams for a while...
    h.open().handle.send(req(3));
    expect(h.singles).toHaveLength(3);
    expect(h.batches).toHaveLength(1);
    // ...then the batch stream is tried again.
    await h.timers.advance(KEEPALIVE_FALLBACK_MS);
    h.open().handle.send(req(4));
    expect(h.batches).toHaveLength(2);
  });

  it('nothing is resent on a fallback once the stream has answered; close() ends every handle with CLIENT_CLOSED', async () => {
    const h = harness();
    const a = h.open();
    a.handle.send(req(1));
    await h.timers.advance(KEEPALIVE_FLUSH_WINDOW_MS);
    h.batches[0]!.sink.onData({ responses: [ack(1)] });
    h.mux.close(new LatchClientError('CLIENT_CLOSED', 'the Latch client is closed'));
    expect(h.batches[0]!.cancelled).toBe(true);
    expect(a.seen.ends).toHaveLength(1);
    expect((a.seen.ends[0] as LatchClientError).code).toBe('CLIENT_CLOSED');
  });

  it('never calls back from inside open(): a stream that cannot be opened ends the handle on a later microtask', async () => {
    const h = harness({ openFails: new LatchClientError('CLIENT_CLOSED', 'the Latch client is closed') });
    const a = h.open();
    expect(a.seen.ends).toEqual([]);
    await Promise.resolve();
    expect(a.seen.ends).toHaveLength(1);
    expect((a.seen.ends[0] as LatchClientError).code).toBe('CLIENT_CLOSED');
    // A handle cancelled first hears nothing.
    const b = h.open();
    b.handle.cancel();
    await Promise.resolve();
    expect(b.seen.ends).toEqual([]);
  });
});

/** A FakeTransport whose keepAlive goes through one KeepAliveMux per endpoint over fake batch wires that answer every request. */
class MuxTransport extends FakeTransport {
  readonly batches: FakeBatch[] = [];
  readonly muxes = new Map<string, KeepAliveMux>();
  constructor(private readonly timers: ManualTimers) {
    super();
  }
  override keepAlive(endpoint: string, handlers: StreamHandlers<WireKeepAliveResponse>): KeepAliveStreamHandle {
    let mux = this.muxes.get(endpoint);
    if (!mux) {
      mux = new KeepAliveMux(endpoint, {
        openBatch: (sink) => {
          const b: FakeBatch = { sink, writes: [], cancelled: false };
          this.batches.push(b);
          return {
            write: (m) => {
              b.writes.push(m);
              queueMicrotask(() => sink.onData({ responses: m.requests.map((r) => ({ sessionId: r.sessionId, nonce: r.nonce, ttlMs: this.ttlMs, expired: false })) }));
            },
            cancel: () => (b.cancelled = true),
          };
        },
        openSingle: () => {
          throw new Error('no fallback expected');
        },
        timers: this.timers,
        clock: this.timers.clock,
      });
      this.muxes.set(endpoint, mux);
    }
    return mux.open(handlers);
  }
}

describe('Sessions on a KeepAliveMux', () => {
  it('keep alive over one stream; when it fails every session moves to one new stream and none expires', async () => {
    const timers = new ManualTimers();
    const transport = new MuxTransport(timers);
    transport.ttlMs = 3000;
    let next = 10;
    transport.on('Sessions/Open', () => ({ sessionId: String(next++), ttlMs: 3000 }));
    transport.on('Sessions/Close', () => ({}));
    const client = await LatchClient.connect({ endpoints: ['127.0.0.1:7001'], verify: false, transport, clock: timers.clock, timers, rng: new SeededRng(3) });
    const sessions = await Promise.all([0, 1, 2, 3].map(() => client.session({ ttlMs: 3000 })));
    const events: string[] = [];
    for (const s of sessions) for (const t of ['jeopardy', 'expired'] as const) s.on(t, () => events.push(t));
    await timers.advance(2_500);
    expect(transport.batches).toHaveLength(1);
    const ids = (b: FakeBatch) => new Set(b.writes.flatMap((w) => w.requests.map((r) => r.sessionId)));
    expect(ids(transport.batches[0]!)).toEqual(new Set(['10', '11', '12', '13']));
    transport.batches[0]!.sink.onEnd({ code: GrpcStatus.UNAVAILABLE, details: 'connection reset' });
    await timers.advance(10_000);
    expect(transport.batches).toHaveLength(2);
    expect(ids(transport.batches[1]!)).toEqual(new Set(['10', '11', '12', '13']));
    expect(events).toEqual([]);
    expect(sessions.every((s) => s.state === 'safe')).toBe(true);
    await client.close();
    expect(transport.batches[1]!.cancelled).toBe(true);
  });
});
