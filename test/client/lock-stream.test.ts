/**
 * LockStream (src/client/lock-stream.ts) over a fake wire with a manual clock: responses matched by
 * call_id in any order, per-call deadline and AbortSignal (with a CancelCall to the server), the
 * same typed errors as the unary path, stream failure, the UNIMPLEMENTED fallback and idle close.
 */
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GrpcStatus, LatchError, NotLeaderError } from '../../src/common/errors.js';
import { errorFromCallError, errorFromStatus, leaderHintOf, outcomeUnknown, retryClassOf } from '../../src/client/error-mapping.js';
import { LatchClientError, UnavailableError } from '../../src/client/errors.js';
import { LOCK_STREAM_IDLE_MS, LockStream } from '../../src/client/lock-stream.js';
import type { AttemptOptions } from '../../src/client/rpc-transport.js';
import type { LockStreamMethod, WireCallError, WireLockStreamRequest, WireLockStreamResponse } from '../../src/client/wire.js';
import { ManualTimers, flush } from './fakes.js';

interface Harness {
  readonly stream: LockStream;
  readonly timers: ManualTimers;
  readonly sent: WireLockStreamRequest[];
  readonly unaryCalls: { method: LockStreamMethod; req: unknown; opts: AttemptOptions }[];
  readonly closed: boolean[];
  cancelled: number;
}

function harness(unaryAnswer: (method: LockStreamMethod) => Promise<unknown> = () => Promise.resolve({})): Harness {
  const timers = new ManualTimers();
  const h = { timers, sent: [] as WireLockStreamRequest[], unaryCalls: [] as Harness['unaryCalls'], closed: [] as boolean[], cancelled: 0 } as Omit<Harness, 'stream'> & { stream?: LockStream };
  h.stream = new LockStream(
    '127.0.0.1:7001',
    { write: (m) => h.sent.push(m), cancel: () => h.cancelled++ },
    {
      timers,
      clock: timers.clock,
      unary: (method, req, opts) => {
        h.unaryCalls.push({ method, req, opts });
        return unaryAnswer(method) as never;
      },
      onClosed: (_s, unimplemented) => h.closed.push(unimplemented),
    },
  );
  return h as Harness;
}

const acquireReq = (name: string) => ({ sessionId: '5', requestSeq: '1', name, mode: 'EXCLUSIVE' as const, waitMs: 0, value: Buffer.alloc(0) });
const granted = (name: string) => ({ acquired: true, sequencer: { name, mode: 'EXCLUSIVE' as const, token: '42', sessionId: '5' } });

/** Settles a promise into a value the test can inspect without unhandled rejections. */
function settle<T>(p: Promise<T>): { readonly value?: T; readonly error?: unknown; readonly done: boolean } {
  const r: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then(
    (v) => Object.assign(r, { value: v, done: true }),
    (e: unknown) => Object.assign(r, { error: e, done: true }),
  );
  return r;
}

describe('LockStream', () => {
  it('sends each call with its own call_id and matches answers in any order', async () => {
    const h = harness();
    const a = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 5000 }));
    const r = settle(h.stream.call('Locks/Release', { sessionId: '5', requestSeq: '2', name: 'b' }, { timeoutMs: 5000 }));
    const v = settle(h.stream.call('Locks/SetValue', { sessionId: '5', requestSeq: '3', name: 'c', value: Buffer.from('x') }, { timeoutMs: 5000 }));
    expect(h.sent.map((m) => [m.callId, Object.keys(m).filter((k) => k !== 'callId')[0]])).toEqual([
      ['1', 'acquire'],
      ['2', 'release'],
      ['3', 'setValue'],
    ]);
    expect(h.stream.size).toBe(3);
    h.stream.onData({ callId: '3', result: 'setValue', setValue: {} });
    h.stream.onData({ callId: '2', result: 'release', release: {} });
    await flush();
    expect(a.done).toBe(false);
    expect(r.value).toEqual({});
    expect(v.value).toEqual({});
    h.stream.onData({ callId: '1', result: 'acquire', acquire: granted('a') });
    await flush();
    expect(a.value).toEqual(granted('a'));
    expect(h.stream.size).toBe(0);
  });

  it('maps a CallError exactly as the unary status with the same trailers', async () => {
    const h = harness();
    const cases: WireCallError[] = [
      { grpcCode: GrpcStatus.UNAVAILABLE, latchCode: 'NOT_LEADER', message: 'not the leader; try 127.0.0.1:7002', leader: '127.0.0.1:7002' },
      { grpcCode: GrpcStatus.NOT_FOUND, latchCode: 'SESSION_NOT_FOUND', message: 'session 9 is unknown', leader: '' },
      { grpcCode: GrpcStatus.FAILED_PRECONDITION, latchCode: 'NOT_HOLDER', message: 'session 5 does not hold lock "x"', leader: '' },
      { grpcCode: GrpcStatus.INVALID_ARGUMENT, latchCode: 'INVALID_ARGUMENT', message: 'name: bad', leader: '' },
      { grpcCode: GrpcStatus.PERMISSION_DENIED, latchCode: 'PERMISSION_DENIED', message: 'token "x" lacks lock on "b"', leader: '' },
      { grpcCode: GrpcStatus.RESOURCE_EXHAUSTED, latchCode: '', message: 'this stream already has 1024 pending calls', leader: '' },
    ];
    for (const ce of cases) {
      const p = settle(h.stream.call('Locks/Acquire', acquireReq('x'), { timeoutMs: 5000 }));
      h.stream.onData({ callId: h.sent.at(-1)!.callId, result: 'error', error: ce });
      await flush();
      const md = new Metadata();
      if (ce.latchCode) md.set('latch-code', ce.latchCode);
      if (ce.leader) md.set('latch-leader', ce.leader);
      const unary = errorFromStatus({ code: ce.grpcCode, details: ce.message, metadata: md });
      const got = p.error as Error;
      expect(got.constructor).toBe(unary.constructor);
      expect(got.message).toBe(unary.message);
      expect((got as LatchError).code).toBe((unary as LatchError).code);
      expect(leaderHintOf(got)).toBe(leaderHintOf(unary));
      expect(retryClassOf(got)).toBe(retryClassOf(unary));
      expect(errorFromCallError(ce).message).toBe(unary.message);
    }
    const notLeader = errorFromCallError(cases[0]!);
    expect(notLeader).toBeInstanceOf(NotLeaderError);
    expect(leaderHintOf(notLeader)).toBe('127.0.0.1:7002');
  });

  it('rejects at the deadline like a unary DEADLINE_EXCEEDED and cancels the call on the server', async () => {
    const h = harness();
    const p = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 1000 }));
    await h.timers.advance(999);
    expect(p.done).toBe(false);
    await h.timers.advance(1);
    expect(p.error).toBeInstanceOf(UnavailableError);
    expect((p.error as UnavailableError).code).toBe('DEADLINE_EXCEEDED');
    expect(outcomeUnknown(p.error)).toBe(true);
    expect(retryClassOf(p.error)).toBe('retry');
    expect(h.sent.at(-1)).toEqual({ callId: '1', cancel: {} });
    // A late answer is ignored.
    h.stream.onData({ callId: '1', result: 'acquire', acquire: granted('a') });
    expect(h.stream.size).toBe(0);
  });

  it('rejects with the signal reason on abort, cancelling on the server; an aborted signal sends nothing', async () => {
    const h = harness();
    const ac = new AbortController();
    const p = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 5000, signal: ac.signal }));
    const reason = new Error('caller gave up');
    ac.abort(reason);
    await flush();
    expect(p.error).toBe(reason);
    expect(h.sent.at(-1)).toEqual({ callId: '1', cancel: {} });
    const before = h.sent.length;
    const q = settle(h.stream.call('Locks/Release', { sessionId: '5', requestSeq: '2', name: 'a' }, { timeoutMs: 5000, signal: ac.signal }));
    await flush();
    expect(q.error).toBe(reason);
    expect(h.sent.length).toBe(before);
    expect(h.timers.size).toBe(1); // only the idle timer: no deadline timer is left behind
  });

  it('fails every pending call as a transport failure when the stream fails or ends, and takes no more calls', async () => {
    for (const end of [{ code: GrpcStatus.INTERNAL, details: 'stream reset' }, null]) {
      const h = harness();
      const a = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 5000 }));
      const b = settle(h.stream.call('Locks/Release', { sessionId: '5', requestSeq: '2', name: 'a' }, { timeoutMs: 5000 }));
      h.stream.onEnd(end);
      await flush();
      for (const r of [a, b]) {
        expect(r.error).toBeInstanceOf(UnavailableError);
        expect((r.error as UnavailableError).code).toBe('UNAVAILABLE');
        expect(outcomeUnknown(r.error)).toBe(true);
        expect(retryClassOf(r.error)).toBe('retry');
      }
      expect(h.closed).toEqual([false]);
      expect(h.stream.open).toBe(false);
      const c = settle(h.stream.call('Locks/Release', { sessionId: '5', requestSeq: '3', name: 'a' }, { timeoutMs: 5000 }));
      await flush();
      expect(c.error).toBeInstanceOf(UnavailableError);
      expect(h.timers.size).toBe(0);
    }
  });

  it('sends pending calls unary, with their remaining time, when the server answers UNIMPLEMENTED', async () => {
    const h = harness((method) => Promise.resolve(method === 'Locks/Acquire' ? granted('a') : {}));
    const ac = new AbortController();
    const a = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 5000, signal: ac.signal }));
    const b = settle(h.stream.call('Locks/Release', { sessionId: '5', requestSeq: '2', name: 'b' }, { timeoutMs: 3000 }));
    await h.timers.advance(1000);
    h.stream.onEnd({ code: GrpcStatus.UNIMPLEMENTED, details: 'The server does not implement the method /latch.v1.Locks/Stream' });
    await flush();
    expect(h.closed).toEqual([true]);
    expect(h.unaryCalls.map((c) => [c.method, c.opts.timeoutMs, c.opts.signal === ac.signal])).toEqual([
      ['Locks/Acquire', 4000, true],
      ['Locks/Release', 2000, false],
    ]);
    expect(h.unaryCalls[0]!.req).toEqual(acquireReq('a'));
    expect(a.value).toEqual(granted('a'));
    expect(b.value).toEqual({});
    expect(h.timers.size).toBe(0);
  });

  it('closes itself once idle for LOCK_STREAM_IDLE_MS, never while a call is pending', async () => {
    const h = harness();
    const p = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 3 * LOCK_STREAM_IDLE_MS }));
    await h.timers.advance(2 * LOCK_STREAM_IDLE_MS);
    expect(h.stream.open).toBe(true);
    h.stream.onData({ callId: '1', result: 'acquire', acquire: granted('a') });
    await flush();
    expect(p.value).toEqual(granted('a'));
    await h.timers.advance(LOCK_STREAM_IDLE_MS - 1);
    expect(h.stream.open).toBe(true);
    await h.timers.advance(1);
    expect(h.stream.open).toBe(false);
    expect(h.cancelled).toBe(1);
    expect(h.closed).toEqual([false]);
  });

  it('close() cancels the call and rejects pending calls with the given error', async () => {
    const h = harness();
    const p = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 5000 }));
    const err = new LatchClientError('CLIENT_CLOSED', 'the Latch client is closed');
    h.stream.close(err);
    await flush();
    expect(p.error).toBe(err);
    expect(h.cancelled).toBe(1);
    expect(h.timers.size).toBe(0);
  });

  it('rejects an answer of the wrong kind as a protocol error', async () => {
    const h = harness();
    const p = settle(h.stream.call('Locks/Acquire', acquireReq('a'), { timeoutMs: 5000 }));
    h.stream.onData({ callId: '1', result: 'release', release: {} } satisfies WireLockStreamResponse);
    await flush();
    expect(p.error).toBeInstanceOf(LatchClientError);
    expect((p.error as LatchClientError).code).toBe('PROTOCOL');
  });
});
