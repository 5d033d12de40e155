import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GrpcStatus, LatchError } from '../../src/common/errors.js';
import { SeededRng } from '../../src/common/rng.js';
import { LockHeldError, UnavailableError } from '../../src/client/errors.js';
import { errorFromStatus } from '../../src/client/error-mapping.js';
import { EndpointSet } from '../../src/client/retry-plan.js';
import { Router } from '../../src/client/router.js';
import type { WireAcquireRequest } from '../../src/client/wire.js';
import { FakeTransport, ManualTimers } from './fakes.js';

const EPS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];

function setup(): { transport: FakeTransport; timers: ManualTimers; router: Router; endpoints: EndpointSet } {
  const transport = new FakeTransport();
  const timers = new ManualTimers();
  const endpoints = new EndpointSet(EPS);
  const router = new Router({ transport, endpoints, backoff: { initialMs: 100, maxMs: 400 }, rng: new SeededRng(7), clock: timers.clock, timers });
  return { transport, timers, router, endpoints };
}

function notLeader(hint?: string): Error {
  const md = new Metadata();
  md.set('latch-code', 'NOT_LEADER');
  if (hint) md.set('latch-leader', hint);
  return errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'not the leader', metadata: md });
}

function acquireReq(seq: string, waitMs: number): WireAcquireRequest {
  return { sessionId: '5', requestSeq: seq, name: 'a', mode: 'EXCLUSIVE', waitMs, value: Buffer.alloc(0) };
}

const granted = { acquired: true, sequencer: { name: 'a', mode: 'EXCLUSIVE' as const, token: '9', sessionId: '5' } };

describe('Router', () => {
  it('follows the latch-leader hint to the leader and remembers it', async () => {
    const { transport, router, endpoints } = setup();
    transport.on('Locks/Acquire', (ep) => {
      if (ep !== EPS[2]) throw notLeader(EPS[2]);
      return granted;
    });
    const res = await router.call('Locks/Acquire', () => acquireReq('1', 0), { timeoutMs: 5000 });
    expect(res.acquired).toBe(true);
    expect(endpoints.leader).toBe(EPS[2]);
    expect(transport.calls.at(-1)?.endpoint).toBe(EPS[2]);
    expect(transport.calls.length).toBeLessThanOrEqual(2);
    // The next call goes straight to the leader.
    transport.calls.length = 0;
    await router.call('Locks/Acquire', () => acquireReq('2', 0), { timeoutMs: 5000 });
    expect(transport.calls.map((c) => c.endpoint)).toEqual([EPS[2]]);
  });

  it('retries with the same requestSeq after an unknown outcome, shrinking the wait', async () => {
    const { transport, timers, router } = setup();
    let n = 0;
    transport.on('Locks/Acquire', () => {
      n++;
      if (n === 1) throw errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'Connection dropped' });
      if (n === 2) throw new LatchError('LEADERSHIP_LOST', 'leader changed');
      return granted;
    });
    const p = router.call('Locks/Acquire', (remaining) => acquireReq('7', Math.floor(remaining - 1000)), { timeoutMs: 11_000, attemptTimeoutMs: Infinity });
    await timers.advance(10);
    await p;
    const calls = transport.callsOf('Locks/Acquire');
    expect(calls.length).toBe(3);
    expect(new Set(calls.map((c) => c.req.requestSeq))).toEqual(new Set(['7']));
    expect(calls[0]!.req.waitMs).toBe(10_000);
    expect(calls[0]!.timeoutMs).toBe(11_000);
  });

  it('throws a definite answer at once, without retrying', async () => {
    const { transport, router } = setup();
    transport.on('Locks/Acquire', () => {
      throw new LockHeldError('held by session 3');
    });
    await expect(router.call('Locks/Acquire', () => acquireReq('1', 0), { timeoutMs: 5000 })).rejects.toBeInstanceOf(LockHeldError);
    expect(transport.calls.length).toBe(1);
  });

  it('gives up at the deadline with UnavailableError, outcome unknown for a mutating call', async () => {
    const { transport, timers, router } = setup();
    transport.on('Locks/Acquire', () => {
      throw errorFromStatus({ code: GrpcStatus.UNAVAILABLE, details: 'connect ECONNREFUSED' });
    });
    const p = router.call('Locks/Acquire', () => acquireReq('1', 0), { timeoutMs: 2000 });
    const settled = p.then(
      () => undefined,
      (e: unknown) => e,
    );
    await timers.advance(2500);
    const err = await settled;
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).outcomeUnknown).toBe(true);
    expect((err as Error).message).toContain('Locks/Acquire');
    // One pass without delay, then backoff: more than 3 attempts, and every attempt before the deadline.
    expect(transport.calls.length).toBeGreaterThan(3);
  });

  it('reports the last LatchError (e.g. NO_QUORUM) when nothing happened anywhere', async () => {
    const { transport, timers, router } = setup();
    transport.on('Locks/Release', () => {
      throw new LatchError('NO_QUORUM', 'no quorum');
    });
    const settled = router.call('Locks/Release', () => ({ sessionId: '1', requestSeq: '1', name: 'a' }), { timeoutMs: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await timers.advance(1500);
    const err = await settled;
    expect(err).toBeInstanceOf(LatchError);
    expect((err as LatchError).code).toBe('NO_QUORUM');
  });

  it('rejects with the abort reason when its signal fires', async () => {
    const { transport, router } = setup();
    transport.on('Locks/Acquire', () => new Promise(() => undefined));
    const ac = new AbortController();
    const p = router.call('Locks/Acquire', () => acquireReq('1', 1000), { timeoutMs: 5000, signal: ac.signal });
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
  });
});
